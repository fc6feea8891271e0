//! The openai upstream → chat client passthrough relay: an arbitrary upstream SSE body, split
//! anywhere, then cut mid-stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmkp_fuzz::drive::fuzz_one;

fuzz_target!(|data: &[u8]| fuzz_one("relay_openai_to_chat", data));
