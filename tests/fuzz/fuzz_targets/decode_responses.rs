//! The Responses client-family request decoder (and every upstream encoder after it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmkp_fuzz::drive::fuzz_one;

fuzz_target!(|data: &[u8]| fuzz_one("decode_responses", data));
