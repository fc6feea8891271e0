//! The SSE decoder: the same bytes split anywhere give the same events, within the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmkp_fuzz::drive::sse_splits_agree;

fuzz_target!(|data: &[u8]| {
    // Two bytes choose the limit, four more the cut points; the rest is the body.
    if data.len() < 6 {
        return;
    }
    let limit = 1 + usize::from(u16::from_le_bytes([data[0], data[1]]));
    let cuts: Vec<usize> = data[2..6].iter().map(|b| usize::from(*b) * 7).collect();
    sse_splits_agree(&data[6..], &cuts, limit);
});
