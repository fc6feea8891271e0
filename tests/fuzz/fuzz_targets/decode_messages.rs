//! The Messages client-family request decoder (and every upstream encoder after it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmkp_fuzz::drive::{Family, decode_request};

fuzz_target!(|data: &[u8]| decode_request(Family::Messages, data));
