//! The embedded state store: `<home>/state.db`, SQLite in WAL mode.
//!
//! One writer thread owns the read-write connection so no disk I/O happens on the async request
//! path: `record` appends changes to a queue (the channel carries one wake-up per batch, not one
//! message per request) and the thread commits them in one transaction so
//! that each change is on disk within the flush interval of when it was recorded (the commit
//! starts early enough for its own duration), or at once (with the caller waiting) for urgent
//! changes. WAL lets the
//! CLI read the same file through [`SqliteReader`] while `serve` writes, and makes a `kill -9`
//! lose at most the last interval. A sidecar `<path>.lock` keeps a second `serve` out; a one-shot
//! command that records results opens with [`SqliteStore::open_shared`], outside that lock.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};

use super::memory::fold_usage;
use super::responses::StoredResponse;
use super::{
    CooldownKindRecord, CooldownRecord, CredentialKey, FairCycleRecord, LadderRecord, LadderRecordKind, StateChange,
    StateSnapshot, StateStore, StoreError, UsageCounters, UsageRecord,
};

/// How long queued, non-urgent changes wait at most before they are committed.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(500);
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Changes kept for a retry after a failed commit; beyond this a persistent failure drops them.
const MAX_RETAINED_CHANGES: usize = 100_000;

/// Schema migrations; migration `i` brings `PRAGMA user_version` from `i` to `i + 1`.
/// Usage counters are JSON objects, so a counter added later needs no migration (missing = 0).
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE cooldowns (provider TEXT NOT NULL, credential TEXT NOT NULL, scope TEXT NOT NULL,
        kind TEXT NOT NULL, reason TEXT NOT NULL, set_at_ms INTEGER NOT NULL, until_ms INTEGER NOT NULL,
        PRIMARY KEY (provider, credential, scope));
    CREATE TABLE ladders (provider TEXT NOT NULL, credential TEXT NOT NULL, scope TEXT NOT NULL,
        kind TEXT NOT NULL, step INTEGER NOT NULL, last_failure_ms INTEGER NOT NULL,
        PRIMARY KEY (provider, credential, scope, kind));
    CREATE TABLE usage (provider TEXT NOT NULL, credential TEXT NOT NULL, scope TEXT NOT NULL,
        window_start_ms INTEGER NOT NULL, window_counters TEXT NOT NULL, total_counters TEXT NOT NULL,
        first_used_ms INTEGER NOT NULL, last_used_ms INTEGER NOT NULL,
        PRIMARY KEY (provider, credential, scope));",
    "
    CREATE TABLE fair_cycle (provider TEXT NOT NULL, credential TEXT NOT NULL, tracking TEXT NOT NULL,
        exhausted_at_ms INTEGER NOT NULL, PRIMARY KEY (provider, credential, tracking));",
    "
    CREATE TABLE responses (id TEXT PRIMARY KEY, owner TEXT NOT NULL, created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL, body TEXT NOT NULL);
    CREATE INDEX responses_by_age ON responses (created_ms);",
];

const USAGE_COLUMNS: &str =
    "provider, credential, scope, window_start_ms, window_counters, total_counters, first_used_ms, last_used_ms";

fn db_err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Database { path: path.display().to_string(), message: e.to_string() }
}

/// The read-write store used by `serve`. Dropping it commits everything queued.
pub struct SqliteStore {
    path: PathBuf,
    commands: Option<Sender<Command>>,
    /// Non-urgent changes not yet taken by the writer.
    queue: Queue,
    writer: Option<JoinHandle<()>>,
    /// Held (exclusively locked) for the store's lifetime; released when dropped. `None` for a
    /// shared store ([`SqliteStore::open_shared`]).
    _lock: Option<File>,
}

type Reply<T> = Sender<Result<T, StoreError>>;

/// Changes recorded and not yet taken by the writer. Appending is a short lock; only the change
/// that finds the queue empty wakes the writer, so a busy server sends one channel message (and
/// one thread wake-up) per flush instead of one per request.
type Queue = Arc<Mutex<Vec<StateChange>>>;

fn lock(queue: &Queue) -> MutexGuard<'_, Vec<StateChange>> {
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

enum Command {
    /// The queue was empty and has changes now, handed over at this instant (their flush
    /// deadline counts from then, not from when the busy writer got to them).
    Queued(Instant),
    /// Commit these and everything queued before, then answer.
    Commit(Vec<StateChange>, Reply<()>),
    Load(i64, Reply<StateSnapshot>),
    PutResponse(StoredResponse, usize, Reply<()>),
    GetResponse(String, i64, Reply<Option<StoredResponse>>),
    DeleteResponse(String, Reply<bool>),
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` for writing; queued changes are
    /// committed every [`DEFAULT_FLUSH_INTERVAL`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, DEFAULT_FLUSH_INTERVAL)
    }

    /// Opens for writing with a given flush interval. Fails with [`StoreError::Locked`] while
    /// another store (in this or another process) has the same path open for writing.
    pub fn open_with(path: &Path, flush_interval: Duration) -> Result<Self, StoreError> {
        Self::open_writer(path, flush_interval, true)
    }

    /// Opens for writing without taking the sidecar lock, next to a running `serve` (a one-shot
    /// command recording results): SQLite's WAL and busy timeout serialise the two writers'
    /// transactions. Queued changes are committed every [`DEFAULT_FLUSH_INTERVAL`] and on drop.
    pub fn open_shared(path: &Path) -> Result<Self, StoreError> {
        Self::open_writer(path, DEFAULT_FLUSH_INTERVAL, false)
    }

    fn open_writer(path: &Path, flush_interval: Duration, exclusive: bool) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            create_private_dir(dir).map_err(|e| db_err(path, e))?;
        }
        let lock = if exclusive { Some(lock_sidecar(path)?) } else { None };
        if !path.exists() {
            create_private_file(path).map_err(|e| db_err(path, e))?;
        }
        let conn = Connection::open(path).map_err(|e| db_err(path, e))?;
        prepare_writer(&conn).map_err(|e| db_err(path, e))?;
        migrate(&conn, path)?;

        let (commands, rx) = mpsc::channel();
        let queue = Queue::default();
        let writer = Writer {
            conn,
            path: path.to_owned(),
            queue: queue.clone(),
            pending: Vec::new(),
            last_commit: Duration::ZERO,
        };
        let handle = std::thread::Builder::new()
            .name("llmkp-state-writer".into())
            .spawn(move || writer.run(&rx, flush_interval))
            .map_err(|e| db_err(path, e))?;
        Ok(Self { path: path.to_owned(), commands: Some(commands), queue, writer: Some(handle), _lock: lock })
    }

    /// A reader for the CLI: takes no lock and never blocks a running `serve`.
    pub fn open_read_only(path: &Path) -> Result<SqliteReader, StoreError> {
        let reader = SqliteReader { path: path.to_owned() };
        if let Some(conn) = reader.connect()? {
            schema_version(&conn, path)?;
        }
        Ok(reader)
    }

    /// Sends a command that answers, and waits for the answer.
    fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, StoreError> {
        let (reply, answer) = mpsc::channel();
        self.send(command(reply))?;
        answer.recv().map_err(|_| db_err(&self.path, "state writer thread has stopped"))?
    }

    fn send(&self, command: Command) -> Result<(), StoreError> {
        let sender = self.commands.as_ref().ok_or_else(|| db_err(&self.path, "store is closed"))?;
        sender.send(command).map_err(|_| db_err(&self.path, "state writer thread has stopped"))
    }
}

impl StateStore for SqliteStore {
    /// Commits everything queued, deletes ended cooldowns, then reads.
    fn load(&self, now_ms: i64) -> Result<StateSnapshot, StoreError> {
        self.ask(|reply| Command::Load(now_ms, reply))
    }

    fn record(&self, changes: Vec<StateChange>) {
        let result = if changes.is_empty() {
            Ok(())
        } else if changes.iter().any(StateChange::is_urgent) {
            self.ask(|reply| Command::Commit(changes, reply))
        } else {
            let first = {
                let mut queue = lock(&self.queue);
                let first = queue.is_empty();
                queue.extend(changes);
                first
            };
            if first { self.send(Command::Queued(Instant::now())) } else { Ok(()) }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "state change not persisted");
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.ask(|reply| Command::Commit(Vec::new(), reply))
    }

    fn put_response(&self, response: StoredResponse, max: usize) -> Result<(), StoreError> {
        self.ask(|reply| Command::PutResponse(response, max, reply))
    }

    fn get_response(&self, id: &str, now_ms: i64) -> Result<Option<StoredResponse>, StoreError> {
        self.ask(|reply| Command::GetResponse(id.to_string(), now_ms, reply))
    }

    fn delete_response(&self, id: &str) -> Result<bool, StoreError> {
        self.ask(|reply| Command::DeleteResponse(id.to_string(), reply))
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channel makes the writer commit what it holds and stop.
        drop(self.commands.take());
        if let Some(handle) = self.writer.take()
            && handle.join().is_err()
        {
            tracing::error!(path = %self.path.display(), "state writer thread panicked");
        }
    }
}

/// Read-only access to a state database another process may be writing. Each `load` opens a
/// fresh `SQLITE_OPEN_READ_ONLY` connection, so a file created after `open_read_only` is seen.
#[derive(Debug, Clone)]
pub struct SqliteReader {
    path: PathBuf,
}

impl SqliteReader {
    /// Everything persisted, cooldowns ended by `now_ms` left out; a missing file is empty.
    pub fn load(&self, now_ms: i64) -> Result<StateSnapshot, StoreError> {
        let Some(conn) = self.connect()? else { return Ok(StateSnapshot::default()) };
        if schema_version(&conn, &self.path)? == 0 {
            return Ok(StateSnapshot::default());
        }
        read_snapshot(&conn, now_ms).map_err(|e| db_err(&self.path, e))
    }

    fn connect(&self) -> Result<Option<Connection>, StoreError> {
        if !self.path.exists() {
            return Ok(None);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| db_err(&self.path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| db_err(&self.path, e))?;
        Ok(Some(conn))
    }
}

/// The writer thread's state: the connection and the changes not committed yet.
struct Writer {
    conn: Connection,
    path: PathBuf,
    /// Shared with the store: what `record` queued since the last commit.
    queue: Queue,
    pending: Vec<StateChange>,
    /// How long the last commit took: the next one starts at least twice that early.
    last_commit: Duration,
}

impl Writer {
    /// How long before a change's deadline its commit starts: a quarter of the interval (room for
    /// a writer thread scheduled late), or twice the last commit's duration when that is more,
    /// but never more than half the interval.
    fn head_start(&self, flush_interval: Duration) -> Duration {
        (flush_interval / 4).max(self.last_commit * 2).min(flush_interval / 2)
    }

    fn run(mut self, commands: &Receiver<Command>, flush_interval: Duration) {
        let mut due: Option<Instant> = None;
        loop {
            let received = match due {
                Some(at) => commands.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => commands.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match received {
                Ok(Command::Queued(recorded_at)) => {
                    let by = recorded_at + flush_interval - self.head_start(flush_interval);
                    due = Some(due.map_or(by, |due| due.min(by)));
                    continue;
                }
                Ok(Command::Commit(changes, reply)) => {
                    // What was queued before these goes first.
                    self.take_queued();
                    self.pending.extend(changes);
                    let _ = reply.send(self.commit());
                }
                Ok(Command::Load(now_ms, reply)) => {
                    let _ = reply.send(self.commit().and_then(|()| {
                        self.conn
                            .execute("DELETE FROM cooldowns WHERE until_ms <= ?1", [now_ms])
                            .and_then(|_| read_snapshot(&self.conn, now_ms))
                            .map_err(|e| db_err(&self.path, e))
                    }));
                }
                Ok(Command::PutResponse(response, max, reply)) => {
                    let _ = reply.send(put_response(&self.conn, &response, max).map_err(|e| db_err(&self.path, e)));
                }
                Ok(Command::GetResponse(id, now_ms, reply)) => {
                    let _ = reply.send(get_response(&self.conn, &id, now_ms).map_err(|e| db_err(&self.path, e)));
                }
                Ok(Command::DeleteResponse(id, reply)) => {
                    let deleted = self.conn.execute("DELETE FROM responses WHERE id = ?1", [&id]);
                    let _ = reply.send(deleted.map(|n| n > 0).map_err(|e| db_err(&self.path, e)));
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = self.commit() {
                        tracing::error!(error = %e, "state flush failed; will retry");
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    if let Err(e) = self.commit() {
                        tracing::error!(error = %e, lost = self.pending.len(), "final state flush failed");
                    }
                    return;
                }
            }
            // Only a failed commit leaves changes behind: try again one interval later.
            due = (!self.pending.is_empty()).then(|| Instant::now() + flush_interval);
        }
    }

    fn take_queued(&mut self) {
        let queued = std::mem::take(&mut *lock(&self.queue));
        self.pending.extend(queued);
    }

    /// Commits everything pending and queued in one transaction; on failure keeps it for the
    /// next try.
    fn commit(&mut self) -> Result<(), StoreError> {
        self.take_queued();
        if self.pending.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let result = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).and_then(|tx| {
            self.pending.iter().try_for_each(|change| apply(&tx, change))?;
            tx.commit()
        });
        if result.is_err() && self.pending.len() > MAX_RETAINED_CHANGES {
            tracing::error!(lost = self.pending.len(), "state changes dropped after repeated failed commits");
            self.pending.clear();
        }
        if result.is_ok() {
            self.pending.clear();
        }
        self.last_commit = started.elapsed();
        crate::telemetry::state_write(self.last_commit);
        crate::telemetry::state_backlog(self.pending.len());
        result.map_err(|e| db_err(&self.path, e))
    }
}

fn apply(conn: &Connection, change: &StateChange) -> rusqlite::Result<()> {
    let key_clause = "provider = ?1 AND credential = ?2 AND scope = ?3";
    match change {
        StateChange::Cooldown(c) => {
            let mut stmt = conn.prepare_cached(
                "INSERT OR REPLACE INTO cooldowns (provider, credential, scope, kind, reason, set_at_ms, until_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let k = &c.key;
            stmt.execute(params![
                k.provider,
                k.credential,
                c.scope,
                c.kind.as_str(),
                c.reason,
                c.set_at_ms,
                c.until_ms
            ])?;
        }
        StateChange::Ladder(l) => {
            let mut stmt = conn.prepare_cached(
                "INSERT OR REPLACE INTO ladders (provider, credential, scope, kind, step, last_failure_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let k = &l.key;
            stmt.execute(params![k.provider, k.credential, l.scope, l.kind.as_str(), l.step, l.last_failure_ms])?;
        }
        StateChange::ClearCooldown { key, scope } | StateChange::ClearLadders { key, scope } => {
            let table = if matches!(change, StateChange::ClearCooldown { .. }) { "cooldowns" } else { "ladders" };
            let mut stmt = conn.prepare_cached(&format!("DELETE FROM {table} WHERE {key_clause}"))?;
            stmt.execute(params![key.provider, key.credential, scope])?;
        }
        StateChange::FairCycleExhausted(f) => {
            let mut stmt = conn.prepare_cached(
                "INSERT OR REPLACE INTO fair_cycle (provider, credential, tracking, exhausted_at_ms) VALUES (?1, ?2, ?3, ?4)",
            )?;
            stmt.execute(params![f.key.provider, f.key.credential, f.tracking, f.exhausted_at_ms])?;
        }
        StateChange::ClearFairCycle { provider, tracking, credentials } => {
            let mut stmt = conn
                .prepare_cached("DELETE FROM fair_cycle WHERE provider = ?1 AND credential = ?2 AND tracking = ?3")?;
            for credential in credentials {
                stmt.execute(params![provider, credential, tracking])?;
            }
        }
        StateChange::Usage { key, scope, at_ms, window_ms, delta } => {
            let mut select = conn.prepare_cached(&format!("SELECT {USAGE_COLUMNS} FROM usage WHERE {key_clause}"))?;
            let existing = select.query_row(params![key.provider, key.credential, scope], usage_from_row).optional()?;
            let r = fold_usage(existing, key, scope, *at_ms, *window_ms, delta);
            let (window, total) = (counters_to_json(&r.window)?, counters_to_json(&r.total)?);
            let sql = format!("INSERT OR REPLACE INTO usage ({USAGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
            let (k, start, first, last) = (&r.key, r.window_start_ms, r.first_used_ms, r.last_used_ms);
            let mut stmt = conn.prepare_cached(&sql)?;
            stmt.execute(params![k.provider, k.credential, r.scope, start, window, total, first, last])?;
        }
    }
    Ok(())
}

fn counters_to_json(counters: &UsageCounters) -> rusqlite::Result<String> {
    serde_json::to_string(counters).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Reads a counters object; a counter it lacks (written by an older build) is 0.
fn counters_from_json(row: &Row<'_>, idx: usize) -> rusqlite::Result<UsageCounters> {
    let text: String = row.get(idx)?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e)))?;
    let n = |name: &str| value.get(name).and_then(serde_json::Value::as_u64).unwrap_or(0);
    Ok(UsageCounters {
        requests: n("requests"),
        successes: n("successes"),
        failures: n("failures"),
        prompt_tokens: n("prompt_tokens"),
        cache_read_tokens: n("cache_read_tokens"),
        cache_write_tokens: n("cache_write_tokens"),
        completion_tokens: n("completion_tokens"),
        reasoning_tokens: n("reasoning_tokens"),
        cost_usd: value.get("cost_usd").and_then(serde_json::Value::as_f64).unwrap_or(0.0),
    })
}

/// Decodes a row selected with [`USAGE_COLUMNS`].
fn usage_from_row(r: &Row<'_>) -> rusqlite::Result<UsageRecord> {
    let key = CredentialKey { provider: r.get(0)?, credential: r.get(1)? };
    let (scope, window_start_ms, first_used_ms, last_used_ms) = (r.get(2)?, r.get(3)?, r.get(6)?, r.get(7)?);
    let (window, total) = (counters_from_json(r, 4)?, counters_from_json(r, 5)?);
    Ok(UsageRecord { key, scope, window_start_ms, window, total, first_used_ms, last_used_ms })
}

/// Reads every table; rows of a kind this build does not know are left out.
fn read_snapshot(conn: &Connection, now_ms: i64) -> rusqlite::Result<StateSnapshot> {
    let mut stmt = conn.prepare(
        "SELECT provider, credential, scope, kind, reason, set_at_ms, until_ms FROM cooldowns
         WHERE until_ms > ?1 ORDER BY provider, credential, scope",
    )?;
    let cooldowns = stmt.query_map([now_ms], |r| {
        let kind = CooldownKindRecord::parse(&r.get::<_, String>(3)?);
        let key = CredentialKey { provider: r.get(0)?, credential: r.get(1)? };
        let (scope, reason, set_at_ms, until_ms) = (r.get(2)?, r.get(4)?, r.get(5)?, r.get(6)?);
        Ok(kind.map(|kind| CooldownRecord { key, scope, kind, reason, set_at_ms, until_ms }))
    })?;
    let cooldowns = cooldowns.filter_map(Result::transpose).collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare(
        "SELECT provider, credential, scope, kind, step, last_failure_ms FROM ladders
         ORDER BY provider, credential, scope, kind",
    )?;
    let ladders = stmt.query_map([], |r| {
        let kind = LadderRecordKind::parse(&r.get::<_, String>(3)?);
        let key = CredentialKey { provider: r.get(0)?, credential: r.get(1)? };
        let (scope, step, last_failure_ms) = (r.get(2)?, r.get(4)?, r.get(5)?);
        Ok(kind.map(|kind| LadderRecord { key, scope, kind, step, last_failure_ms }))
    })?;
    let ladders = ladders.filter_map(Result::transpose).collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare(&format!("SELECT {USAGE_COLUMNS} FROM usage ORDER BY provider, credential, scope"))?;
    let usage = stmt.query_map([], usage_from_row)?.collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare(
        "SELECT provider, credential, tracking, exhausted_at_ms FROM fair_cycle ORDER BY provider, credential, tracking",
    )?;
    let fair_cycle = stmt
        .query_map([], |r| {
            let key = CredentialKey { provider: r.get(0)?, credential: r.get(1)? };
            Ok(FairCycleRecord { key, tracking: r.get(2)?, exhausted_at_ms: r.get(3)? })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(StateSnapshot { cooldowns, ladders, usage, fair_cycle })
}

/// Keeps `response`, drops expired ones and, beyond `max`, the oldest.
fn put_response(conn: &Connection, response: &StoredResponse, max: usize) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO responses (id, owner, created_ms, expires_ms, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![response.id, response.owner, response.created_ms, response.expires_ms, response.body],
    )?;
    conn.execute("DELETE FROM responses WHERE expires_ms <= ?1", [response.created_ms])?;
    let max = i64::try_from(max.max(1)).unwrap_or(i64::MAX);
    conn.execute(
        "DELETE FROM responses WHERE id IN (SELECT id FROM responses ORDER BY created_ms DESC LIMIT -1 OFFSET ?1)",
        [max],
    )?;
    Ok(())
}

fn get_response(conn: &Connection, id: &str, now_ms: i64) -> rusqlite::Result<Option<StoredResponse>> {
    conn.query_row(
        "SELECT id, owner, created_ms, expires_ms, body FROM responses WHERE id = ?1 AND expires_ms > ?2",
        params![id, now_ms],
        |r| {
            Ok(StoredResponse {
                id: r.get(0)?,
                owner: r.get(1)?,
                created_ms: r.get(2)?,
                expires_ms: r.get(3)?,
                body: r.get(4)?,
            })
        },
    )
    .optional()
}

fn prepare_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "state database is not in WAL mode");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
}

/// The schema version of an opened database, refusing one newer than this build knows.
fn schema_version(conn: &Connection, path: &Path) -> Result<usize, StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| db_err(path, e))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(db_err(path, format!("schema version {version} is newer than this llmkp ({})", MIGRATIONS.len())));
    }
    Ok(version)
}

fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(schema_version(conn, path)?) {
        let version = i64::try_from(i + 1).unwrap_or(i64::MAX);
        let tx = conn.unchecked_transaction().map_err(|e| db_err(path, e))?;
        tx.execute_batch(sql)
            .and_then(|()| tx.pragma_update(None, "user_version", version))
            .and_then(|()| tx.commit())
            .map_err(|e| db_err(path, e))?;
    }
    Ok(())
}

/// Takes the exclusive advisory lock on `<path>.lock`.
fn lock_sidecar(path: &Path) -> Result<File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = private_options().read(true).open(&lock_path).map_err(|e| db_err(&lock_path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(path.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(db_err(&lock_path, e)),
    }
}

/// Create-if-missing, writable, mode 0600 on unix.
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Creates the empty database file 0600 before SQLite opens it (its `-wal`/`-shm` copy the mode).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    drop(private_options().open(path)?);
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests;
