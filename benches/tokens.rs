//! Offline token counting speed: the first (cold) load of the o200k encoding, and counting a
//! 1 MB text, as `llmkp count-tokens --file` does. Run with `cargo bench --bench tokens`.

use std::time::Instant;

fn main() {
    let paragraph = "The quick brown fox jumps over the lazy dog; naïve café owners count 12345 tokens. \n";
    let text: String = paragraph.repeat(1_048_576 / paragraph.len() + 1);
    let text = &text[..text.char_indices().take_while(|(i, _)| *i < 1_048_576).count()];

    let cold = Instant::now();
    llmkp::tokens::warm();
    let load = cold.elapsed();

    let mut best = std::time::Duration::MAX;
    let mut tokens = 0;
    for _ in 0..5 {
        let started = Instant::now();
        tokens = llmkp::tokens::count_text("gpt-4o", text).tokens;
        best = best.min(started.elapsed());
    }
    println!("| measurement | value |");
    println!("| --- | --- |");
    println!("| o200k first load | {:.0} ms |", load.as_secs_f64() * 1e3);
    println!("| 1 MB text ({tokens} tokens), best of 5 | {:.0} ms |", best.as_secs_f64() * 1e3);
}
