//! Writing detailed request logs (`--enable-request-logging`) in the Python proxy's layout:
//! `<home>/logs/detailed_logs/<YYYYMMDD_HHMMSS>_<request id>/` with `request.json`, each upstream
//! attempt's request and response, `streaming_chunks.jsonl` or `final_response.json`, and
//! `metadata.json`. One thread writes; the queue is bounded and a full queue drops the record
//! (`llmkp_request_log_dropped_total`), so logging never slows or fails a request. Old folders go
//! by age, then the oldest go until the total size fits.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use super::detailed::{Record, Scrub};

/// Records waiting for the writer at most.
const QUEUE: usize = 256;
/// Retention is applied after this many records (and at start).
const SWEEP_EVERY: usize = 32;

#[derive(Debug, Clone)]
pub struct RequestLogSettings {
    /// `<home>/logs/detailed_logs`.
    pub dir: PathBuf,
    pub max_age: Duration,
    pub max_bytes: u64,
}

struct Writer {
    queue: SyncSender<Record>,
    scrub: ArcSwap<Arc<dyn Scrub>>,
}

static WRITER: OnceLock<Writer> = OnceLock::new();

/// Starts the writer (once per process) and applies retention to what is already there.
pub fn install(settings: RequestLogSettings, scrub: Arc<dyn Scrub>) -> std::io::Result<()> {
    std::fs::create_dir_all(&settings.dir)?;
    let (queue, records) = sync_channel::<Record>(QUEUE);
    let writer = Writer { queue, scrub: ArcSwap::from_pointee(scrub) };
    if WRITER.set(writer).is_err() {
        return Ok(());
    }
    std::thread::Builder::new().name("llmkp-request-log".into()).spawn(move || {
        sweep(&settings);
        let mut written = 0usize;
        while let Ok(record) = records.recv() {
            let scrub = WRITER.get().map(|w| w.scrub.load_full());
            if let Some(scrub) = scrub
                && let Err(err) = write(&settings.dir, &record, scrub.as_ref().as_ref())
            {
                tracing::warn!("cannot write the request log of {}: {err}", record.id);
            }
            written += 1;
            if written.is_multiple_of(SWEEP_EVERY) {
                sweep(&settings);
            }
        }
    })?;
    Ok(())
}

/// Whether request logging is on in this process.
pub fn enabled() -> bool {
    WRITER.get().is_some()
}

/// Secrets of a reloaded configuration are scrubbed from now on.
pub fn set_scrubber(scrub: Arc<dyn Scrub>) {
    if let Some(w) = WRITER.get() {
        w.scrub.store(Arc::new(scrub));
    }
}

/// Queues a finished record; drops it (counted) when the writer is behind.
pub fn submit(record: Record) {
    let Some(writer) = WRITER.get() else { return };
    if let Err(TrySendError::Full(_)) = writer.queue.try_send(record) {
        super::request_log_dropped();
    }
}

fn folder_name(record: &Record) -> String {
    let secs = record.started.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // `2026-12-05T09:04:34Z` → `20261205_090434`
    let stamp: String = crate::catalog::models::rfc3339_utc(secs)
        .chars()
        .filter_map(|c| match c {
            'T' => Some('_'),
            c if c.is_ascii_digit() => Some(c),
            _ => None,
        })
        .collect();
    let id: String = record.id.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
    format!("{stamp}_{id}")
}

fn write(dir: &Path, record: &Record, scrub: &dyn Scrub) -> std::io::Result<()> {
    let folder = dir.join(folder_name(record));
    std::fs::create_dir_all(&folder)?;
    for (name, contents) in record.files(scrub) {
        std::fs::write(folder.join(name), contents)?;
    }
    Ok(())
}

/// Removes folders older than the age limit, then the oldest until the total fits the size limit.
pub fn sweep(settings: &RequestLogSettings) {
    let Ok(entries) = std::fs::read_dir(&settings.dir) else { return };
    let now = SystemTime::now();
    let mut kept: Vec<(String, PathBuf, u64)> = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_dir() {
            continue;
        }
        let age = meta.modified().ok().and_then(|m| now.duration_since(m).ok()).unwrap_or_default();
        if age > settings.max_age {
            let _ = std::fs::remove_dir_all(&path);
            continue;
        }
        kept.push((entry.file_name().to_string_lossy().into_owned(), path.clone(), size_of(&path)));
    }
    kept.sort();
    let mut total: u64 = kept.iter().map(|(_, _, size)| size).sum();
    for (_, path, size) in kept {
        if total <= settings.max_bytes {
            break;
        }
        let _ = std::fs::remove_dir_all(&path);
        total = total.saturating_sub(size);
    }
}

fn size_of(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}
