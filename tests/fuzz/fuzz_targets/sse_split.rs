//! The SSE decoder: the same bytes split anywhere give the same events, within the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmkp_fuzz::drive::fuzz_one;

fuzz_target!(|data: &[u8]| fuzz_one("sse_split", data));
