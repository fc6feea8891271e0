//! `llmkp auth` through the real binary, API-key side (credentials spec §1, §8.1): `auth add`
//! creating `<home>/.env` with a random proxy key, appending `<PROVIDER>_API_KEY_<n>` while every
//! other line stays as it was, keys from a flag, from stdin and from a hidden prompt (in tmux),
//! `auth remove` of one variable, and `auth list` / `auth export` with nothing stored. Never a key
//! in the output.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cli::{BIN, output};

const KEY_1: &str = "sk-auth-cli-000000000001";
const KEY_2: &str = "sk-auth-cli-000000000002";

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn env_text(home: &Path) -> String {
    std::fs::read_to_string(home.join(".env")).unwrap()
}

/// `llmkp <args>` with `stdin`, checking that none of `secrets` reached stdout or stderr.
fn auth(home: &Path, args: &[&str], stdin: Option<&str>, secrets: &[&str]) -> Output {
    let out = output(home, args, stdin);
    let (o, e) = (stdout(&out), stderr(&out));
    for secret in secrets {
        assert!(!o.contains(secret) && !e.contains(secret), "{args:?} printed {secret}:\n{o}\n{e}");
    }
    out
}

/// `(source, masked, status)` of each credential `keys list --json` shows for `provider`.
fn listed(home: &Path, provider: &str) -> Vec<(String, String, String)> {
    let out = output(home, &["keys", "list", "--json"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    report["providers"][provider]["credentials"]
        .as_array()
        .unwrap_or_else(|| panic!("no {provider} in {report:#}"))
        .iter()
        .map(|c| {
            let text = |field: &str| c[field].as_str().unwrap().to_string();
            (text("source"), text("accessor_masked"), text("status"))
        })
        .collect()
}

fn row(source: &str, masked: &str) -> (String, String, String) {
    (source.to_string(), masked.to_string(), "active".to_string())
}

#[test]
fn the_first_add_creates_a_private_env_with_a_random_proxy_key_shown_once() {
    let home = tempfile::tempdir().unwrap();
    let out = auth(home.path(), &["auth", "add", "openai", "--api-key", KEY_1], None, &[KEY_1]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = stdout(&out);
    assert_eq!(printed.lines().count(), 1, "{printed}");
    assert!(printed.contains("OPENAI_API_KEY_1") && printed.contains("…0001"), "{printed}");

    let path = home.path().join(".env");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let text = env_text(home.path());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let proxy_key = lines[0].strip_prefix("PROXY_API_KEY=").unwrap_or_else(|| panic!("{text}"));
    assert_eq!(proxy_key.len(), 43, "32 bytes in unpadded base64url: {proxy_key}");
    assert!(proxy_key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{proxy_key}");
    assert_eq!(lines[1], format!("OPENAI_API_KEY_1={KEY_1}"));
    assert!(text.ends_with('\n'));

    // The new proxy key goes to stderr, once, with a notice; never to stdout.
    let notice = stderr(&out);
    assert_eq!(notice.lines().count(), 1, "{notice}");
    assert_eq!(notice.matches(proxy_key).count(), 1, "{notice}");
    assert!(notice.contains("PROXY_API_KEY") && notice.contains("shown once"), "{notice}");
    assert!(!printed.contains(proxy_key), "{printed}");

    // A later add neither replaces nor shows it again.
    let again = auth(home.path(), &["auth", "add", "openai", "--api-key", KEY_2], None, &[KEY_2, proxy_key]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(again.stderr.is_empty(), "{}", stderr(&again));
    assert!(env_text(home.path()).starts_with(&format!("PROXY_API_KEY={proxy_key}\n")));

    // Random, not a fixed default.
    let other = tempfile::tempdir().unwrap();
    assert!(output(other.path(), &["auth", "add", "openai", "--api-key", KEY_1], None).status.success());
    assert!(!env_text(other.path()).contains(proxy_key));
}

#[test]
fn later_adds_take_the_next_number_keep_every_other_byte_and_refuse_a_stored_key() {
    let home = tempfile::tempdir().unwrap();
    let original = "# my settings\n\
                    PROXY_API_KEY=my-proxy-key\n\
                    \n\
                    export GEMINI_API_KEY=AIza-keep-me-0000000001   # inline comment\n\
                    SPACED = 'single quoted $value'\n\
                    ROUTING=\"a b\\tc\"\n\
                    # OPENAI_API_KEY_1=commented-out\n\
                    IGNORE_MODELS_OPENAI=*-preview\n";
    std::fs::write(home.path().join(".env"), original).unwrap();
    std::fs::set_permissions(home.path().join(".env"), std::fs::Permissions::from_mode(0o644)).unwrap();

    let first = auth(home.path(), &["auth", "add", "openai", "--api-key", KEY_1], None, &[KEY_1, "my-proxy-key"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(first.stderr.is_empty(), "an existing .env gets no new proxy key: {}", stderr(&first));
    assert_eq!(env_text(home.path()), format!("{original}OPENAI_API_KEY_1={KEY_1}\n"));

    let second = auth(home.path(), &["auth", "add", "openai", "--api-key", KEY_2], None, &[KEY_1, KEY_2]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(stdout(&second).contains("OPENAI_API_KEY_2") && stdout(&second).contains("…0002"), "{}", stdout(&second));
    let expected = format!("{original}OPENAI_API_KEY_1={KEY_1}\nOPENAI_API_KEY_2={KEY_2}\n");
    assert_eq!(env_text(home.path()), expected);
    let mode = std::fs::metadata(home.path().join(".env")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the rewrite is private");

    for key in [KEY_1, KEY_2, &format!("  {KEY_2}  ")] {
        let same = auth(home.path(), &["auth", "add", "openai", "--api-key", key], None, &[KEY_1, KEY_2]);
        assert_eq!(same.status.code(), Some(1), "{}", stderr(&same));
        assert!(stderr(&same).contains("already stored"), "{}", stderr(&same));
        assert_eq!(stderr(&same).lines().count(), 1, "{}", stderr(&same));
        assert!(same.stdout.is_empty());
        assert_eq!(env_text(home.path()), expected, "unchanged");
    }

    // The stored keys are what the gateway uses.
    assert_eq!(listed(home.path(), "openai"), [row("OPENAI_API_KEY_1", "…0001"), row("OPENAI_API_KEY_2", "…0002")]);
    assert_eq!(listed(home.path(), "gemini"), [row("GEMINI_API_KEY", "…0001")]);
}

#[test]
fn the_lowest_free_number_is_taken_and_a_key_of_another_env_file_is_not_shadowed() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".env"), "OPENAI_API_KEY_2=sk-existing-00000000002\n").unwrap();
    std::fs::write(home.path().join("team.env"), "OPENAI_API_KEY_1=sk-team-000000000000011\n").unwrap();

    // `.env` would win over `team.env` (§1), so number 1 is not free either.
    let out = auth(home.path(), &["auth", "add", "openai", "--api-key", KEY_1], None, &[KEY_1]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(env_text(home.path()), format!("OPENAI_API_KEY_2=sk-existing-00000000002\nOPENAI_API_KEY_3={KEY_1}\n"));
    assert_eq!(
        listed(home.path(), "openai"),
        [row("OPENAI_API_KEY_1", "…0011"), row("OPENAI_API_KEY_2", "…0002"), row("OPENAI_API_KEY_3", "…0001")]
    );

    // A key already configured in another file is refused as well.
    let dup = auth(home.path(), &["auth", "add", "openai", "--api-key", "sk-team-000000000000011"], None, &[]);
    assert_eq!(dup.status.code(), Some(1), "{}", stderr(&dup));
    assert!(stderr(&dup).contains("already stored as OPENAI_API_KEY_1"), "{}", stderr(&dup));
    assert!(!stderr(&dup).contains("sk-team-000000000000011"), "{}", stderr(&dup));

    // A gap in `.env` itself is filled.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".env"), "PROXY_API_KEY=p\nOPENAI_API_KEY_2=sk-existing-00000000002\n").unwrap();
    assert!(output(home.path(), &["auth", "add", "openai", "--api-key", KEY_1], None).status.success());
    assert!(
        env_text(home.path())
            .ends_with(&format!("OPENAI_API_KEY_2=sk-existing-00000000002\nOPENAI_API_KEY_1={KEY_1}\n"))
    );
}

#[test]
fn keys_with_special_characters_are_quoted_and_read_back_unchanged() {
    let home = tempfile::tempdir().unwrap();
    let odd = "sk-\"odd\" it's #1 $HOME \\x\t-0042";
    let braces = "sk-${HOME}-${X:-y}-0043";
    for key in [odd, braces] {
        let out = auth(home.path(), &["auth", "add", "openai", "--api-key", key], None, &[key]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert_eq!(listed(home.path(), "openai"), [row("OPENAI_API_KEY_1", "…0042"), row("OPENAI_API_KEY_2", "…0043")]);
    let before = env_text(home.path());
    for key in [odd, braces] {
        let same = auth(home.path(), &["auth", "add", "openai", "--api-key", key], None, &[key]);
        assert_eq!(same.status.code(), Some(1), "the stored value is the key: {}", stderr(&same));
    }
    assert_eq!(env_text(home.path()), before);

    // No .env form reads `'` together with `${` back unchanged: refused, not stored as another key.
    let empty = tempfile::tempdir().unwrap();
    let unwritable = "it's-${HOME}-0044";
    let out = auth(empty.path(), &["auth", "add", "openai", "--api-key", unwritable], None, &[unwritable]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(!empty.path().join(".env").exists());
}

#[test]
fn without_a_terminal_the_key_comes_from_stdin_and_empty_input_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let out = auth(home.path(), &["auth", "add", "groq"], Some("gsk-from-stdin\n"), &["gsk-from-stdin"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("GROQ_API_KEY_1"), "{}", stdout(&out));
    assert!(env_text(home.path()).ends_with("\nGROQ_API_KEY_1=gsk-from-stdin\n"), "{}", env_text(home.path()));

    // --api-key wins over stdin.
    let flag = auth(home.path(), &["auth", "add", "groq", "--api-key", "gsk-from-flag"], Some("gsk-ignored\n"), &[]);
    assert_eq!(flag.status.code(), Some(0), "{}", stderr(&flag));
    assert!(env_text(home.path()).ends_with("GROQ_API_KEY_1=gsk-from-stdin\nGROQ_API_KEY_2=gsk-from-flag\n"));

    for stdin in [Some(""), Some("\n  \n"), None] {
        let empty = tempfile::tempdir().unwrap();
        let out = output(empty.path(), &["auth", "add", "groq"], stdin);
        assert_eq!(out.status.code(), Some(2), "{stdin:?}: {}", stderr(&out));
        let message = stderr(&out);
        assert_eq!(message.lines().count(), 1, "{stdin:?}: {message}");
        assert!(message.starts_with("error: ") && message.contains("groq"), "{message}");
        assert!(out.stdout.is_empty());
        assert!(!empty.path().join(".env").exists(), "{stdin:?}: nothing written, no proxy key made");
    }

    let bad = output(home.path(), &["auth", "add", "not-a-name", "--api-key", "k"], None);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn base_url_makes_a_custom_provider_with_its_base_written_once() {
    let home = tempfile::tempdir().unwrap();
    let base = "http://127.0.0.1:9/v1";
    let out = auth(home.path(), &["auth", "add", "mylocal", "--base-url", base], Some("local-key-000000000001\n"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("MYLOCAL_API_KEY_1"), "{}", stdout(&out));
    let text = env_text(home.path());
    assert!(
        text.ends_with(&format!("\nMYLOCAL_API_KEY_1=local-key-000000000001\nMYLOCAL_API_BASE={base}\n")),
        "{text}"
    );

    let more = ["auth", "add", "mylocal", "--base-url", base, "--api-key", "local-key-000000000002"];
    assert_eq!(output(home.path(), &more, None).status.code(), Some(0));
    let text = env_text(home.path());
    assert_eq!(text.matches("MYLOCAL_API_BASE=").count(), 1, "{text}");
    assert!(text.ends_with("MYLOCAL_API_KEY_2=local-key-000000000002\n"), "{text}");
    assert_eq!(
        listed(home.path(), "mylocal"),
        [row("MYLOCAL_API_KEY_1", "…0001"), row("MYLOCAL_API_KEY_2", "…0002")],
        "a known endpoint, so not unknown_provider"
    );
}

#[test]
fn remove_deletes_exactly_one_variable_line() {
    let home = tempfile::tempdir().unwrap();
    let head = "# keys\nPROXY_API_KEY=p\n";
    let tail = "OPENAI_API_KEY_10=sk-ten-0000000000000010\n\
                # OPENAI_API_KEY_1=old\n\
                OPENAI_API_KEY_2=sk-two-0000000000000002\n\
                GROQ_API_KEY_1=gsk-0000000000000001\n";
    let original = format!("{head}OPENAI_API_KEY_1=sk-one-0000000000000001\n{tail}");
    std::fs::write(home.path().join(".env"), &original).unwrap();

    let out = auth(home.path(), &["auth", "remove", "openai", "OPENAI_API_KEY_1"], None, &["sk-one"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("removed OPENAI_API_KEY_1"), "{}", stdout(&out));
    assert_eq!(env_text(home.path()), format!("{head}{tail}"));
    let sources: Vec<String> = listed(home.path(), "openai").into_iter().map(|(source, ..)| source).collect();
    assert_eq!(sources, ["OPENAI_API_KEY_2", "OPENAI_API_KEY_10"]);

    let absent = output(home.path(), &["auth", "remove", "openai", "OPENAI_API_KEY_1"], None);
    assert_eq!(absent.status.code(), Some(1), "{}", stderr(&absent));
    assert!(stderr(&absent).contains("OPENAI_API_KEY_1"), "{}", stderr(&absent));
    assert_eq!(stderr(&absent).lines().count(), 1, "{}", stderr(&absent));

    // Only API-key variables of the named provider.
    for which in ["PROXY_API_KEY", "GROQ_API_KEY_1"] {
        let refused = output(home.path(), &["auth", "remove", "openai", which], None);
        assert_eq!(refused.status.code(), Some(2), "{which}: {}", stderr(&refused));
    }
    assert_eq!(env_text(home.path()), format!("{head}{tail}"), "unchanged");

    let empty = tempfile::tempdir().unwrap();
    let out = output(empty.path(), &["auth", "remove", "openai", "OPENAI_API_KEY_1"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!empty.path().join(".env").exists());
}

#[test]
fn list_and_export_with_nothing_stored() {
    let home = tempfile::tempdir().unwrap();
    let list = output(home.path(), &["auth", "list"], None);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    assert!(stdout(&list).starts_with("no OAuth credentials"), "{}", stdout(&list));
    assert!(stdout(&list).contains("llmkp auth add gemini_cli"), "{}", stdout(&list));

    let json = output(home.path(), &["auth", "list", "--json"], None);
    assert!(json.status.success());
    let body: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(body, serde_json::json!({ "credentials": [] }));

    let export = output(home.path(), &["auth", "export", "gemini_cli"], None);
    assert_eq!(export.status.code(), Some(1), "{}", stderr(&export));
    assert!(export.stdout.is_empty());
    let message = stderr(&export);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("no stored gemini_cli credentials"), "{message}");

    let unknown = output(home.path(), &["auth", "export", "nosuch"], None);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("nosuch"), "{}", stderr(&unknown));
    assert!(!home.path().join(".env").exists(), "list and export write nothing");
}

// ------------------------------------------------------------------------------------------
// The hidden prompt, on a real terminal (tmux)
// ------------------------------------------------------------------------------------------

/// A detached tmux session on a server of its own (its socket in a temporary directory), killed
/// when dropped (also when a test fails).
struct Tmux {
    socket: tempfile::TempDir,
    session: String,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.env_remove("TMUX").arg("-S").arg(self.socket.path().join("tmux.sock"));
        cmd
    }

    /// Everything the pane showed, scrollback included.
    fn capture(&self) -> String {
        let out = self.command().args(["capture-pane", "-p", "-J", "-S", "-", "-t", &self.session]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the pane until `done` holds (at most 10 s); every capture is checked with `check`.
    fn wait_for(&self, what: &str, check: &dyn Fn(&str), done: &dyn Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let pane = self.capture();
            check(&pane);
            if done(&pane) {
                return pane;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "no {what} within 10 s; pane:\n{pane}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().args(["kill-session", "-t", &self.session]).output();
        let _ = self.command().arg("kill-server").output();
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn on_a_terminal_the_key_is_prompted_for_without_echo() {
    if !Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success()) {
        eprintln!("NOTICE: tmux is not available; skipping the hidden-prompt test");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let unique = format!(
        "llmkp-auth-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    );
    let tmux = Tmux { socket: tempfile::tempdir().unwrap(), session: unique };
    let home_arg = shell_quote(&home.path().to_string_lossy());
    let path = std::env::var("PATH").unwrap_or_default();
    let script = format!(
        "env -i PATH={} HOME={home_arg} {} --home {home_arg} auth add mistral; echo \"[llmkp exited $?]\"; sleep 60",
        shell_quote(&path),
        shell_quote(BIN)
    );
    let started = tmux
        .command()
        .args(["new-session", "-d", "-s", &tmux.session, "-x", "160", "-y", "40", "-c"])
        .arg(home.path())
        .arg(script)
        .output()
        .unwrap();
    assert!(started.status.success(), "tmux new-session: {}", String::from_utf8_lossy(&started.stderr));

    let key = "mistral-hidden-key-000000000077";
    let never_shown = |pane: &str| assert!(!pane.contains(key), "the key was echoed:\n{pane}");
    tmux.wait_for("prompt", &never_shown, &|pane| pane.contains("API key for mistral"));
    let typed = tmux.command().args(["send-keys", "-t", &tmux.session, "-l", key]).status().unwrap();
    assert!(typed.success());
    assert!(tmux.command().args(["send-keys", "-t", &tmux.session, "Enter"]).status().unwrap().success());
    let pane = tmux.wait_for("exit", &never_shown, &|pane| pane.contains("[llmkp exited"));

    assert!(pane.contains("[llmkp exited 0]"), "{pane}");
    assert!(pane.contains("MISTRAL_API_KEY_1") && pane.contains("…0077"), "{pane}");
    assert!(pane.contains("shown once"), "a new .env: the proxy key notice\n{pane}");
    let text = env_text(home.path());
    assert!(text.starts_with("PROXY_API_KEY="), "{text}");
    assert!(text.ends_with(&format!("\nMISTRAL_API_KEY_1={key}\n")), "{text}");
}
