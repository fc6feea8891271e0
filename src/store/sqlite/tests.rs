//! Tests of the SQLite store: round trips, windows, urgency, locking, permissions.

use super::*;

const HOUR: Duration = Duration::from_secs(3600);

fn key() -> CredentialKey {
    CredentialKey { provider: "gemini".into(), credential: "cred-a".into() }
}

/// A quota cooldown of `len_ms`: urgent from 60 s on.
fn cooldown(set_at_ms: i64, len_ms: i64) -> StateChange {
    let (kind, reason) = (CooldownKindRecord::Quota, "rate_limit".into());
    let until_ms = set_at_ms + len_ms;
    StateChange::Cooldown(CooldownRecord { key: key(), scope: "pro".into(), kind, reason, set_at_ms, until_ms })
}

fn ladder(kind: LadderRecordKind, step: u32) -> StateChange {
    StateChange::Ladder(LadderRecord { key: key(), scope: "pro".into(), kind, step, last_failure_ms: 7 })
}

fn usage(at_ms: i64, requests: u64) -> StateChange {
    let delta = UsageCounters { requests, completion_tokens: 3 * requests, cost_usd: 0.25, ..Default::default() };
    StateChange::Usage { key: key(), scope: "pro".into(), at_ms, window_ms: 1_000, delta }
}

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("home").join("state.db")
}

fn read(path: &Path) -> StateSnapshot {
    SqliteStore::open_read_only(path).unwrap().load(0).unwrap()
}

#[test]
fn round_trips_every_change_kind_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(&db_path(&dir), HOUR).unwrap();
    store.record(vec![cooldown(1_000, 1_000), ladder(LadderRecordKind::Backoff, 2), usage(1_000, 2)]);
    store.record(vec![ladder(LadderRecordKind::Auth, 1), ladder(LadderRecordKind::Backoff, 4)]);
    let loaded = store.load(0).unwrap();
    let StateChange::Cooldown(expected) = cooldown(1_000, 1_000) else { unreachable!() };
    assert_eq!(loaded.cooldowns, [expected]);
    let steps: Vec<_> = loaded.ladders.iter().map(|l| (l.kind, l.step, l.last_failure_ms)).collect();
    assert_eq!(steps, [(LadderRecordKind::Auth, 1, 7), (LadderRecordKind::Backoff, 4, 7)]);
    let expected = UsageCounters { requests: 2, completion_tokens: 6, cost_usd: 0.25, ..Default::default() };
    assert_eq!((loaded.usage[0].window, loaded.usage[0].total), (expected, expected));
    drop(store);

    let store = SqliteStore::open_with(&db_path(&dir), HOUR).unwrap();
    assert_eq!(store.load(0).unwrap(), loaded, "reopening keeps everything");
    store.record(vec![
        StateChange::ClearCooldown { key: key(), scope: "pro".into() },
        StateChange::ClearLadders { key: key(), scope: "pro".into() },
    ]);
    let cleared = store.load(0).unwrap();
    assert!(cleared.cooldowns.is_empty() && cleared.ladders.is_empty());
    assert_eq!(cleared.usage, loaded.usage);
}

#[test]
fn fair_cycle_marks_persist_until_their_cycle_is_reset() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(&db_path(&dir), HOUR).unwrap();
    let mark = |tracking: &str| {
        StateChange::FairCycleExhausted(FairCycleRecord { key: key(), tracking: tracking.into(), exhausted_at_ms: 9 })
    };
    store.record(vec![mark("pro"), mark("flash")]);
    assert_eq!(read(&db_path(&dir)).fair_cycle.len(), 2, "urgent: visible without a flush");
    let credentials = vec![key().credential];
    store.record(vec![StateChange::ClearFairCycle { provider: key().provider, tracking: "pro".into(), credentials }]);
    let left = store.load(0).unwrap().fair_cycle;
    assert_eq!(left.iter().map(|f| f.tracking.as_str()).collect::<Vec<_>>(), ["flash"]);
}

#[test]
fn usage_accumulates_within_window_and_restarts_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(&db_path(&dir), HOUR).unwrap();
    store.record(vec![usage(5_000, 1), usage(5_999, 2)]);
    let row = store.load(0).unwrap().usage.remove(0);
    assert_eq!((row.window_start_ms, row.window.requests, row.total.requests), (5_000, 3, 3));
    store.record(vec![usage(6_000, 4), usage(4_000, 1)]);
    let row = store.load(0).unwrap().usage.remove(0);
    assert_eq!((row.window_start_ms, row.window.requests, row.window.completion_tokens), (6_000, 5, 15));
    assert_eq!((row.total.requests, row.first_used_ms, row.last_used_ms), (8, 4_000, 6_000));
    assert!((row.total.cost_usd - 1.0).abs() < 1e-9);
}

#[test]
fn expired_cooldowns_are_not_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = SqliteStore::open_with(&path, HOUR).unwrap();
    store.record(vec![cooldown(1_000, 1_000)]);
    store.flush().unwrap();
    assert_eq!(SqliteStore::open_read_only(&path).unwrap().load(2_000).unwrap().cooldowns, []);
    assert_eq!(store.load(1_999).unwrap().cooldowns.len(), 1);
    assert_eq!(store.load(2_000).unwrap().cooldowns, []);
    assert_eq!(read(&path).cooldowns, [], "the writer's load deletes ended cooldowns");
}

#[test]
fn urgent_change_is_visible_to_a_reader_when_record_returns() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(&db_path(&dir), HOUR).unwrap();
    store.record(vec![usage(1_000, 1), cooldown(1_000, 60_000)]);
    let seen = read(&db_path(&dir));
    assert_eq!((seen.cooldowns.len(), seen.usage.len()), (1, 1), "the batch and all queued before it");
    store.record(vec![StateChange::ClearCooldown { key: key(), scope: "pro".into() }]);
    assert_eq!(read(&db_path(&dir)).cooldowns, []);
}

#[test]
fn non_urgent_change_is_visible_after_flush() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(&db_path(&dir), HOUR).unwrap();
    store.record(vec![cooldown(1_000, 59_999), ladder(LadderRecordKind::Backoff, 1), usage(1_000, 1)]);
    assert_eq!(read(&db_path(&dir)), StateSnapshot::default(), "queued until the interval or a flush");
    store.flush().unwrap();
    let seen = read(&db_path(&dir));
    assert_eq!((seen.cooldowns.len(), seen.ladders.len(), seen.usage.len()), (1, 1, 1));
}

#[test]
fn queued_changes_are_committed_after_the_flush_interval() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(&db_path(&dir), Duration::from_millis(20)).unwrap();
    store.record(vec![usage(1_000, 1)]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while read(&db_path(&dir)).usage.is_empty() {
        assert!(Instant::now() < deadline, "not committed by the writer thread");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_queued_change_is_on_disk_within_the_flush_interval_of_when_it_was_recorded() {
    // The documented bound: a kill -9 loses at most the flush interval. The commit must end by
    // then, not start then.
    let interval = Duration::from_millis(400);
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(&db_path(&dir), interval).unwrap();
    let reader = SqliteStore::open_read_only(&db_path(&dir)).unwrap();
    for round in 0..3 {
        let recorded = Instant::now();
        store.record(vec![usage(1_000, 1)]);
        while reader.load(0).unwrap().usage.first().map_or(0, |u| u.total.requests) <= round {
            assert!(recorded.elapsed() < Duration::from_secs(5), "never committed");
            std::thread::sleep(Duration::from_millis(2));
        }
        let took = recorded.elapsed();
        assert!(took < interval, "round {round}: on disk {took:?} after it was recorded (interval {interval:?})");
    }
}

#[test]
fn dropping_without_flush_persists_everything() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(&db_path(&dir), HOUR).unwrap();
    store.record(vec![usage(1_000, 1), ladder(LadderRecordKind::Auth, 3)]);
    drop(store);
    let seen = read(&db_path(&dir));
    assert_eq!((seen.ladders.len(), seen.usage.len()), (1, 1));
}

#[test]
fn second_writer_is_locked_out_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let first = SqliteStore::open(&db_path(&dir)).unwrap();
    let second = SqliteStore::open(&db_path(&dir));
    assert!(matches!(second, Err(StoreError::Locked(p)) if p.ends_with("state.db")));
    assert!(SqliteStore::open_read_only(&db_path(&dir)).is_ok(), "readers take no lock");
    drop(first);
    SqliteStore::open(&db_path(&dir)).unwrap();
}

#[test]
fn a_shared_writer_works_while_an_exclusive_one_is_held_and_both_see_each_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let exclusive = SqliteStore::open_with(&db_path(&dir), HOUR).unwrap();
    let shared = SqliteStore::open_shared(&db_path(&dir)).unwrap();
    assert!(matches!(SqliteStore::open(&db_path(&dir)), Err(StoreError::Locked(_))), "still exclusive");
    shared.record(vec![cooldown(1_000, 60_000)]);
    assert_eq!(read(&db_path(&dir)).cooldowns.len(), 1, "urgent: committed when record returns");
    assert_eq!(exclusive.load(0).unwrap().cooldowns.len(), 1, "the exclusive writer sees it");
    exclusive.record(vec![ladder(LadderRecordKind::Auth, 2)]);
    exclusive.flush().unwrap();
    drop(exclusive);
    let _next = SqliteStore::open(&db_path(&dir)).expect("the shared writer holds no lock");
    assert_eq!(shared.load(0).unwrap().ladders.len(), 1, "the shared writer sees the other's writes");
    shared.record(vec![usage(1_000, 1)]);
    drop(shared);
    let seen = read(&db_path(&dir));
    assert_eq!((seen.cooldowns.len(), seen.ladders.len(), seen.usage.len()), (1, 1, 1), "dropping commits");
}

#[test]
fn read_only_open_of_a_missing_file_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read(&db_path(&dir)), StateSnapshot::default());
    assert!(!db_path(&dir).exists(), "a reader creates nothing");
}

#[test]
fn an_open_reader_does_not_block_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(&db_path(&dir), HOUR).unwrap();
    let reader = Connection::open_with_flags(db_path(&dir), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    reader.execute_batch("BEGIN; SELECT count(*) FROM usage;").unwrap();
    let started = Instant::now();
    store.record(vec![usage(1_000, 1)]);
    store.flush().unwrap();
    assert!(started.elapsed() < BUSY_TIMEOUT);
    assert_eq!(read(&db_path(&dir)).usage.len(), 1);
}

#[test]
fn refuses_a_schema_newer_than_this_build() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(&db_path(&dir)).unwrap());
    Connection::open(db_path(&dir)).unwrap().pragma_update(None, "user_version", 99).unwrap();
    assert!(matches!(SqliteStore::open(&db_path(&dir)), Err(StoreError::Database { .. })));
    assert!(SqliteStore::open_read_only(&db_path(&dir)).is_err());
}

#[cfg(unix)]
#[test]
fn creates_the_database_0600_in_a_0700_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&db_path(&dir)).unwrap();
    store.record(vec![usage(1_000, 1)]);
    store.flush().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db_path(&dir)), 0o600);
    assert_eq!(mode(&dir.path().join("home/state.db-wal")), 0o600);
    assert_eq!(mode(&dir.path().join("home")), 0o700);
}

/// The rules every state store keeps for stored Responses: expiry, the cap (oldest first), delete.
pub(crate) fn responses_are_kept_capped_and_expire(store: &dyn StateStore) {
    let stored = |id: &str, created_ms: i64| StoredResponse {
        id: id.into(),
        owner: "o".into(),
        created_ms,
        expires_ms: created_ms + 1_000,
        body: format!("{{\"response\":{{\"id\":\"{id}\"}}}}"),
    };
    store.put_response(stored("resp_a", 100), 2).unwrap();
    store.put_response(stored("resp_b", 200), 2).unwrap();
    assert_eq!(store.get_response("resp_a", 150).unwrap(), Some(stored("resp_a", 100)));
    store.put_response(stored("resp_c", 300), 2).unwrap();
    assert_eq!(store.get_response("resp_a", 350).unwrap(), None, "the oldest went beyond the cap");
    assert!(store.get_response("resp_b", 350).unwrap().is_some());
    assert_eq!(store.get_response("resp_c", 1_300).unwrap(), None, "expired");
    assert!(store.delete_response("resp_b").unwrap());
    assert!(!store.delete_response("resp_b").unwrap());
    assert_eq!(store.get_response("resp_b", 350).unwrap(), None);
}

#[test]
fn stored_responses_in_sqlite_and_in_memory_follow_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("state.db")).unwrap();
    responses_are_kept_capped_and_expire(&sqlite);
    responses_are_kept_capped_and_expire(&crate::store::memory::MemoryStore::new());
}
