//! The responses upstream → messages client translation: an arbitrary upstream SSE body, split
//! anywhere, then cut mid-stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmkp_fuzz::drive::{Client, Upstream, relay_cut, relay_stream};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let client = Client::Messages;
    let cuts = [usize::from(data[1]) * 13];
    relay_stream(Upstream::Responses, client, &data[2..], &cuts);
    relay_cut(Upstream::Responses, client, &data[2..], usize::from(data[1] % 8));
});
