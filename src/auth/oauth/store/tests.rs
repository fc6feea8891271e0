use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use super::*;

/// The Python LLM-API-Key-Proxy's Google file, field for field (fractional milliseconds, float
/// timestamp, `_proxy_metadata` with its extra keys).
const PY_GEMINI: &str = r#"{
  "access_token": "ya29.a0AfB_secret-access",
  "refresh_token": "1//0gSecretRefreshToken",
  "scope": "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid",
  "token_type": "Bearer",
  "id_token": "eyJhbGciOiJSUzI1NiJ9.secret-id",
  "expiry_date": 1767225600123.456,
  "client_id": "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
  "client_secret": "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",
  "token_uri": "https://oauth2.googleapis.com/token",
  "universe_domain": "googleapis.com",
  "_proxy_metadata": {
    "email": "User@Gmail.com",
    "last_check_timestamp": 1767220000.1234567,
    "project_id": "my-proj-123",
    "tier": "PRO",
    "tier_full": "Google One AI PRO",
    "loaded_from_env": false,
    "quota": {"resets": [1, 2.5, null], "note": "ünïcode"}
  },
  "extra_top_level": {"nested": [true, {"deep": "value"}], "big": 12345678901234567890}
}"#;

const PY_QWEN: &str = r#"{"access_token": "qwen-secret-access", "refresh_token": "qwen-secret-refresh",
  "token_type": "Bearer", "expiry_date": 1767225600000.5, "resource_url": "portal.qwen.ai",
  "_proxy_metadata": {"email": null, "last_check_timestamp": 1767220000.0}}"#;

const PY_IFLOW: &str = r#"{"access_token": "iflow-secret-access", "refresh_token": "iflow-secret-refresh",
  "api_key": "sk-iflow-secret", "email": "me@example.com", "expiry_date": "2026-01-17T12:00:00.123456Z",
  "token_type": "Bearer", "scope": "read write",
  "_proxy_metadata": {"email": "me@example.com", "last_check_timestamp": 1767220000.0, "credential_type": "oauth"}}"#;

const PY_IFLOW_COOKIE: &str = r#"{"cookie": "BXAuth=cookie-secret;", "api_key": "sk-cookie-secret", "name": "my-key",
  "expire_time": "2026-02-01 12:00", "email": "my-key",
  "_proxy_metadata": {"email": "my-key", "credential_type": "cookie", "last_check_timestamp": 1767220000.0}}"#;

/// `~/.gemini/oauth_creds.json` as the official gemini-cli writes it: no client fields.
const OFFICIAL_GEMINI_CLI: &str = r#"{"access_token": "ya29.official-secret", "scope": "https://www.googleapis.com/auth/cloud-platform",
  "token_type": "Bearer", "id_token": "eyJ.official-id", "expiry_date": 1767225600000,
  "refresh_token": "1//official-refresh-secret"}"#;

/// `gcloud auth application-default login` output.
const GCLOUD_ADC: &str = r#"{"account": "", "client_id": "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com",
  "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty", "quota_project_id": "my-quota-proj",
  "refresh_token": "1//adc-refresh-secret", "type": "authorized_user", "universe_domain": "googleapis.com"}"#;

const SECRETS: [&str; 14] = [
    "secret-access",
    "SecretRefreshToken",
    "secret-id",
    "GOCSPX-4uHgMPm",
    "qwen-secret",
    "iflow-secret",
    "sk-iflow-secret",
    "cookie-secret",
    "sk-cookie-secret",
    "official-secret",
    "official-refresh-secret",
    "adc-refresh-secret",
    "d-FL95Q19q7MQmFpd7hHD0Ty",
    "env-secret",
];

fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked in: {text}");
    }
}

fn reveal(secret: &Option<SecretString>) -> Option<&str> {
    secret.as_ref().map(|s| s.expose_secret())
}

fn parse(provider: OAuthProvider, json: &str) -> StoredCredential {
    parse_file(provider, Path::new("/home/x/oauth_creds/test_oauth_1.json"), 1, json.as_bytes()).unwrap()
}

fn value(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

fn write_raw(home: &Path, name: &str, json: &str) -> PathBuf {
    let dir = oauth_dir(home);
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    fs::write(&path, json).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// ---- shapes -------------------------------------------------------------------------------

#[test]
fn python_google_file_with_fractional_milliseconds_and_metadata() {
    let c = parse(OAuthProvider::GeminiCli, PY_GEMINI);
    assert_eq!(reveal(&c.tokens.access_token), Some("ya29.a0AfB_secret-access"));
    assert_eq!(reveal(&c.tokens.refresh_token), Some("1//0gSecretRefreshToken"));
    assert_eq!(reveal(&c.tokens.id_token), Some("eyJhbGciOiJSUzI1NiJ9.secret-id"));
    assert_eq!(c.tokens.expiry_ms, Some(1_767_225_600_123));
    assert_eq!(c.tokens.token_type.as_deref(), Some("Bearer"));
    assert!(c.tokens.scope.as_deref().unwrap().ends_with(" openid"));
    assert_eq!(c.metadata.email.as_deref(), Some("User@Gmail.com"));
    assert_eq!(c.metadata.last_check_timestamp, Some(1_767_220_000.123_456_7));
    assert_eq!(
        (c.metadata.project_id.as_deref(), c.metadata.tier.as_deref(), c.metadata.tier_full.as_deref()),
        (Some("my-proj-123"), Some("PRO"), Some("Google One AI PRO"))
    );
    assert_eq!(
        c.client_id.as_deref(),
        Some("681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com")
    );
    assert_eq!(reveal(&c.client_secret), Some("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"));
    assert_eq!(c.token_uri.as_deref(), Some("https://oauth2.googleapis.com/token"));
    assert_eq!(c.source, CredentialSource::File { path: "/home/x/oauth_creds/test_oauth_1.json".into(), number: 1 });
    assert!(!c.is_cookie());
}

#[test]
fn rewrite_preserves_every_field_and_value_when_nothing_changed() {
    let c = parse(OAuthProvider::GeminiCli, PY_GEMINI);
    // The fractional expiry, the float timestamp and every unknown field come back unchanged.
    assert_eq!(Value::Object(to_file_json(&c)), value(PY_GEMINI));
    let q = parse(OAuthProvider::QwenCode, PY_QWEN);
    assert_eq!(Value::Object(to_file_json(&q)), value(PY_QWEN));
    let i = parse(OAuthProvider::Iflow, PY_IFLOW);
    assert_eq!(Value::Object(to_file_json(&i)), value(PY_IFLOW));
    let k = parse(OAuthProvider::Iflow, PY_IFLOW_COOKIE);
    assert_eq!(Value::Object(to_file_json(&k)), value(PY_IFLOW_COOKIE));
}

#[test]
fn unknown_fields_survive_an_update_of_the_known_ones() {
    let mut c = parse(OAuthProvider::GeminiCli, PY_GEMINI);
    c.tokens.access_token = Some("ya29.new".into());
    c.tokens.expiry_ms = Some(1_800_000_000_000);
    c.metadata.tier = Some("ULTRA".into());
    c.metadata.last_check_timestamp = Some(1_800_000_000.5);
    let out = Value::Object(to_file_json(&c));
    let original = value(PY_GEMINI);
    assert_eq!(out["extra_top_level"], original["extra_top_level"]);
    assert_eq!(out["_proxy_metadata"]["quota"], original["_proxy_metadata"]["quota"]);
    assert_eq!(out["_proxy_metadata"]["loaded_from_env"], json!(false));
    assert_eq!(out["access_token"], json!("ya29.new"));
    assert_eq!(out["expiry_date"], json!(1_800_000_000_000_i64));
    assert!(out["expiry_date"].is_i64());
    assert_eq!(out["_proxy_metadata"]["tier"], json!("ULTRA"));
    assert_eq!(out["_proxy_metadata"]["last_check_timestamp"], json!(1_800_000_000.5));
    assert_eq!(out["refresh_token"], original["refresh_token"]);
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    let original_keys: Vec<&String> = original.as_object().unwrap().keys().collect();
    assert_eq!(keys, original_keys, "key order kept");
}

#[test]
fn official_gemini_cli_file_gets_the_default_client_written_in() {
    let c = parse(OAuthProvider::GeminiCli, OFFICIAL_GEMINI_CLI);
    let defaults = OAuthEndpoints::resolve(OAuthProvider::GeminiCli, &Env::default());
    assert_eq!(c.client_id.as_deref(), Some(defaults.client_id.as_str()));
    assert_eq!(reveal(&c.client_secret), defaults.client_secret.as_deref());
    assert_eq!(c.token_uri.as_deref(), Some("https://oauth2.googleapis.com/token"));
    assert_eq!(c.tokens.expiry_ms, Some(1_767_225_600_000));
    assert_eq!(c.metadata, ProxyMetadata::default());
    let out = to_file_json(&c);
    assert_eq!(out["client_id"], json!(defaults.client_id));
    assert_eq!(out["client_secret"], json!(defaults.client_secret.unwrap()));
    assert_eq!(out["token_uri"], json!("https://oauth2.googleapis.com/token"));
    assert_eq!(out["refresh_token"], json!("1//official-refresh-secret"));
    assert!(!out.contains_key("_proxy_metadata"));
    // A field only iFlow decodes is an unknown field elsewhere, kept as it is.
    let with_cookie = OFFICIAL_GEMINI_CLI.replace("{", r#"{"cookie": "kept", "#);
    assert_eq!(to_file_json(&parse(OAuthProvider::GeminiCli, &with_cookie))["cookie"], json!("kept"));
    let antigravity = parse(OAuthProvider::Antigravity, OFFICIAL_GEMINI_CLI);
    assert!(antigravity.client_id.unwrap().starts_with("1071006060591-"));
}

#[test]
fn gcloud_adc_authorized_user_without_access_token_is_due() {
    let c = parse(OAuthProvider::GeminiCli, GCLOUD_ADC);
    assert_eq!(c.tokens.access_token.as_ref().map(|_| ()), None);
    assert_eq!(reveal(&c.tokens.refresh_token), Some("1//adc-refresh-secret"));
    assert_eq!(c.tokens.expiry_ms, None);
    assert_eq!(
        c.client_id.as_deref(),
        Some("764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com")
    );
    assert_eq!(reveal(&c.client_secret), Some("d-FL95Q19q7MQmFpd7hHD0Ty"));
    assert_eq!(c.metadata.email, None, "empty account is no identity");
    let out = to_file_json(&c);
    assert_eq!(out["type"], json!("authorized_user"));
    assert_eq!(out["quota_project_id"], json!("my-quota-proj"));
    assert_eq!(out["token_uri"], json!("https://oauth2.googleapis.com/token"));
}

#[test]
fn gcloud_token_expiry_string_is_read_and_kept_in_step() {
    let json = r#"{"access_token": "ya29.x", "refresh_token": "1//r", "client_id": "c", "client_secret": "s",
        "token_expiry": "2026-01-17T12:00:00Z", "token_uri": "https://oauth2.googleapis.com/token",
        "_class": "OAuth2Credentials", "id_token": {"email": "a@b.c"}, "invalid": false}"#;
    let mut c = parse(OAuthProvider::GeminiCli, json);
    assert_eq!(c.tokens.expiry_ms, Some(1_768_651_200_000));
    assert_eq!(c.tokens.id_token.as_ref().map(|_| ()), None, "an object is not a token");
    assert_eq!(to_file_json(&c)["id_token"], json!({"email": "a@b.c"}));
    c.tokens.expiry_ms = Some(1_768_654_800_500);
    let out = to_file_json(&c);
    assert_eq!(out["token_expiry"], json!("2026-01-17T13:00:00Z"));
    assert_eq!(out["expiry_date"], json!(1_768_654_800_500_i64));
    assert_eq!(out["_class"], json!("OAuth2Credentials"));
}

#[test]
fn nested_credential_object_is_read_and_written_in_place() {
    let json = r#"{"key": {"type": "user"}, "credential": {"access_token": "ya29.nested", "refresh_token": "1//nested",
        "client_id": "cid", "expiry_date": 1767225600000, "other": 1}}"#;
    let mut c = parse(OAuthProvider::Antigravity, json);
    assert_eq!(reveal(&c.tokens.access_token), Some("ya29.nested"));
    assert_eq!(c.client_id.as_deref(), Some("cid"));
    c.tokens.access_token = Some("ya29.renewed".into());
    c.metadata.email = Some("a@b.c".into());
    let out = to_file_json(&c);
    assert_eq!(out["credential"]["access_token"], json!("ya29.renewed"));
    assert_eq!(out["credential"]["other"], json!(1));
    assert_eq!(out["key"], json!({"type": "user"}));
    assert!(!out.contains_key("access_token"));
    assert_eq!(out["_proxy_metadata"]["email"], json!("a@b.c"));
}

#[test]
fn qwen_file_with_null_email_counts_as_missing() {
    let c = parse(OAuthProvider::QwenCode, PY_QWEN);
    assert_eq!(c.metadata.email, None);
    assert_eq!(c.tokens.expiry_ms, Some(1_767_225_600_000));
    assert_eq!(c.tokens.resource_url.as_deref(), Some("portal.qwen.ai"));
    assert_eq!((c.client_id.as_deref(), c.token_uri.as_deref()), (None, None));
    let out = to_file_json(&c);
    assert_eq!(out["_proxy_metadata"]["email"], Value::Null);
    assert!(!out.contains_key("client_id"));
    let mut renewed = c.clone();
    renewed.tokens.expiry_ms = Some(1_767_300_000_000);
    assert_eq!(to_file_json(&renewed)["expiry_date"], json!(1_767_300_000_000_i64));
}

#[test]
fn iflow_oauth_file_with_iso_expiry_and_numeric_seconds() {
    let c = parse(OAuthProvider::Iflow, PY_IFLOW);
    assert_eq!(c.tokens.expiry_ms, Some(1_768_651_200_123));
    assert_eq!(reveal(&c.tokens.api_key), Some("sk-iflow-secret"));
    assert_eq!(c.metadata.credential_type.as_deref(), Some("oauth"));
    assert!(!c.is_cookie());
    let mut renewed = c.clone();
    renewed.tokens.expiry_ms = Some(1_768_654_800_007);
    renewed.metadata.email = Some("new@example.com".into());
    let out = to_file_json(&renewed);
    assert_eq!(out["expiry_date"], json!("2026-01-17T13:00:00.007000Z"));
    assert_eq!(out["email"], json!("new@example.com"));
    assert_eq!(out["_proxy_metadata"]["email"], json!("new@example.com"));

    let numeric = PY_IFLOW.replace(r#""2026-01-17T12:00:00.123456Z""#, "1768651200.5");
    assert_eq!(parse(OAuthProvider::Iflow, &numeric).tokens.expiry_ms, Some(1_768_651_200_500));
    let naive = PY_IFLOW.replace("12:00:00.123456Z", "12:00:00.123456");
    assert_eq!(parse(OAuthProvider::Iflow, &naive).tokens.expiry_ms, Some(1_768_651_200_123));
    let empty = PY_IFLOW.replace(r#""2026-01-17T12:00:00.123456Z""#, r#""""#);
    assert_eq!(parse(OAuthProvider::Iflow, &empty).tokens.expiry_ms, None);
}

#[test]
fn iflow_cookie_files_are_detected_with_or_without_credential_type() {
    let c = parse(OAuthProvider::Iflow, PY_IFLOW_COOKIE);
    assert!(c.is_cookie());
    assert_eq!(reveal(&c.cookie), Some("BXAuth=cookie-secret;"));
    assert_eq!(c.cookie_expire_time.as_deref(), Some("2026-02-01 12:00"));
    assert_eq!(c.metadata.email.as_deref(), Some("my-key"));
    assert_eq!(to_file_json(&c)["name"], json!("my-key"));

    let untyped =
        r#"{"cookie": "BXAuth=cookie-secret;", "api_key": "sk-cookie-secret", "expire_time": "2026-02-01 12:00"}"#;
    let c = parse(OAuthProvider::Iflow, untyped);
    assert!(c.is_cookie());
    assert_eq!(c.metadata.email, None);
    assert_eq!(to_file_json(&c)["_proxy_metadata"]["credential_type"], json!("cookie"));
    let oauth_untyped = r#"{"access_token": "a", "refresh_token": "r", "api_key": "k"}"#;
    let c = parse(OAuthProvider::Iflow, oauth_untyped);
    assert!(!c.is_cookie());
    assert_eq!(to_file_json(&c)["_proxy_metadata"]["credential_type"], json!("oauth"));
}

type ErrorCheck = fn(&StoreError) -> bool;

#[test]
fn invalid_files_are_errors_naming_the_file_never_a_value() {
    let path = Path::new("/h/oauth_creds/gemini_cli_oauth_2.json");
    let cases: [(&str, ErrorCheck); 4] = [
        (r#"{"access_token": "secret-access-1234" "#, |e| matches!(e, StoreError::Json { .. })),
        (r#"["secret-access-1234"]"#, |e| matches!(e, StoreError::NotObject { .. })),
        (r#"{"scope": "secret-access-1234", "access_token": ""}"#, |e| matches!(e, StoreError::NoTokens { .. })),
        ("secret-access-1234", |e| matches!(e, StoreError::Json { .. })),
    ];
    for (json, check) in cases {
        let err = parse_file(OAuthProvider::GeminiCli, path, 2, json.as_bytes()).unwrap_err();
        assert!(check(&err), "{err:?}");
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("gemini_cli_oauth_2.json"), "{shown}");
        assert!(!shown.contains("1234"), "{shown}");
    }
}

#[test]
fn debug_output_and_raw_hold_no_secret() {
    for (provider, json) in [
        (OAuthProvider::GeminiCli, PY_GEMINI),
        (OAuthProvider::QwenCode, PY_QWEN),
        (OAuthProvider::Iflow, PY_IFLOW),
        (OAuthProvider::Iflow, PY_IFLOW_COOKIE),
        (OAuthProvider::GeminiCli, GCLOUD_ADC),
        (OAuthProvider::GeminiCli, OFFICIAL_GEMINI_CLI),
    ] {
        let c = parse(provider, json);
        assert_no_secret(&format!("{c:?} {:?} {}", c.raw, c.masked()));
    }
}

// ---- files --------------------------------------------------------------------------------

#[test]
fn write_file_is_atomic_0600_and_creates_the_directory_0700() {
    let home = tempfile::tempdir().unwrap();
    let path = file_path(home.path(), OAuthProvider::GeminiCli, 1);
    let mut c = parse(OAuthProvider::GeminiCli, PY_GEMINI);
    c.source = CredentialSource::File { path: path.clone(), number: 1 };
    write_file(&c).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&oauth_dir(home.path())), 0o700);
    assert_eq!(serde_json::from_slice::<Value>(&fs::read(&path).unwrap()).unwrap(), value(PY_GEMINI));
    let names: Vec<_> = fs::read_dir(oauth_dir(home.path())).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["gemini_cli_oauth_1.json"], "no temp file left behind");

    // A group-readable file warns at load and is 0600 again after the next save.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let (creds, warnings) = load_files(home.path(), OAuthProvider::GeminiCli);
    assert_eq!(creds.len(), 1);
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("gemini_cli_oauth_1.json") && warnings[0].contains("0644"), "{warnings:?}");
    write_file(&creds[0]).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert!(load_files(home.path(), OAuthProvider::GeminiCli).1.is_empty());

    let env_cred = load_env(
        &env_pairs(&[("QWEN_CODE_ACCESS_TOKEN", "a"), ("QWEN_CODE_REFRESH_TOKEN", "r")]),
        OAuthProvider::QwenCode,
    );
    assert_eq!(write_file(&env_cred[0]).unwrap_err().kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn written_file_loads_back_as_the_same_credential() {
    let home = tempfile::tempdir().unwrap();
    let path = write_raw(home.path(), "iflow_oauth_3.json", PY_IFLOW);
    let (mut creds, _) = load_files(home.path(), OAuthProvider::Iflow);
    creds[0].tokens.refresh_token = Some("iflow-secret-rotated".into());
    creds[0].tokens.expiry_ms = Some(1_800_000_000_000);
    write_file(&creds[0]).unwrap();
    let again = parse_file(OAuthProvider::Iflow, &path, 3, &fs::read(&path).unwrap()).unwrap();
    assert_eq!(reveal(&again.tokens.refresh_token), Some("iflow-secret-rotated"));
    assert_eq!(again.tokens.expiry_ms, Some(1_800_000_000_000));
    assert_eq!(to_file_json(&again), to_file_json(&creds[0]));
}

#[test]
fn load_files_reads_in_numeric_order_and_skips_bad_files_with_a_warning() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    write_raw(h, "qwen_code_oauth_10.json", &PY_QWEN.replace("qwen-secret-refresh", "r10"));
    write_raw(h, "qwen_code_oauth_2.json", &PY_QWEN.replace("qwen-secret-refresh", "r2"));
    write_raw(h, "qwen_code_oauth_1.json", r#"{"access_token": "qwen-secret-broken""#);
    write_raw(h, "qwen_code_oauth_0.json", PY_QWEN);
    write_raw(h, "qwen_code_oauth_x.json", PY_QWEN);
    write_raw(h, "qwen_code_oauth_3.json.bak", PY_QWEN);
    write_raw(h, "gemini_cli_oauth_4.json", PY_GEMINI);
    let (creds, warnings) = load_files(h, OAuthProvider::QwenCode);
    let numbers: Vec<u32> = creds
        .iter()
        .map(|c| match c.source {
            CredentialSource::File { number, .. } => number,
            CredentialSource::Env { .. } => 0,
        })
        .collect();
    assert_eq!(numbers, [2, 10]);
    assert_eq!(reveal(&creds[0].tokens.refresh_token), Some("r2"));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("qwen_code_oauth_1.json"));
    assert_no_secret(&warnings.join("\n"));
    assert_eq!(next_number(h, OAuthProvider::QwenCode), 11, "invalid files still hold their number");
    assert_eq!(next_number(h, OAuthProvider::Iflow), 1);
    assert_eq!(next_number(h, OAuthProvider::GeminiCli), 5);
    assert!(load_files(&h.join("missing"), OAuthProvider::QwenCode).0.is_empty());
}

#[test]
fn find_by_email_ignores_case() {
    let creds = vec![parse(OAuthProvider::GeminiCli, PY_GEMINI), parse(OAuthProvider::QwenCode, PY_QWEN)];
    assert!(find_by_email(&creds, "user@gmail.COM").is_some());
    assert!(find_by_email(&creds, "other@gmail.com").is_none());
}

// ---- environment --------------------------------------------------------------------------

fn env_pairs(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn numbered_environment_credentials_beat_the_unnumbered_one() {
    let env = env_pairs(&[
        ("GEMINI_CLI_ACCESS_TOKEN", "bare-env-secret"),
        ("GEMINI_CLI_REFRESH_TOKEN", "bare-env-secret-r"),
        ("GEMINI_CLI_2_ACCESS_TOKEN", "a2-env-secret"),
        ("GEMINI_CLI_2_REFRESH_TOKEN", "r2-env-secret"),
        ("GEMINI_CLI_10_ACCESS_TOKEN", "a10-env-secret"),
        ("GEMINI_CLI_10_REFRESH_TOKEN", "r10-env-secret"),
        ("GEMINI_CLI_10_EXPIRY_DATE", "1767225600123.9"),
        ("GEMINI_CLI_10_EMAIL", "ten@example.com"),
        ("GEMINI_CLI_10_PROJECT_ID", "proj-10"),
        ("GEMINI_CLI_10_TIER", "PRO"),
        ("GEMINI_CLI_10_CLIENT_ID", "custom-client"),
        ("GEMINI_CLI_10_SCOPE", "a b"),
        ("GEMINI_CLI_3_ACCESS_TOKEN", "a3-env-secret"),
        ("GEMINI_CLI_3_REFRESH_TOKEN", ""),
        ("GEMINI_CLI_OAUTH_PORT", "8085"),
        ("GEMINI_CLI_07_ACCESS_TOKEN", "leading-zero"),
        ("GEMINI_CLI_07_REFRESH_TOKEN", "leading-zero"),
    ]);
    let creds = load_env(&env, OAuthProvider::GeminiCli);
    let ids: Vec<String> = creds.iter().map(StoredCredential::display_id).collect();
    assert_eq!(ids, ["env://gemini_cli/2", "env://gemini_cli/10"]);
    let (two, ten) = (&creds[0], &creds[1]);
    assert_eq!(two.metadata.email.as_deref(), Some("env-user-2"));
    assert_eq!(two.tokens.expiry_ms, Some(0), "missing expiry: refresh at once");
    let defaults = OAuthEndpoints::resolve(OAuthProvider::GeminiCli, &Env::default());
    assert_eq!(two.client_id.as_deref(), Some(defaults.client_id.as_str()));
    assert_eq!(reveal(&two.client_secret), defaults.client_secret.as_deref());
    assert_eq!(two.token_uri.as_deref(), Some("https://oauth2.googleapis.com/token"));
    assert_eq!(to_file_json(two)["universe_domain"], json!("googleapis.com"));
    assert_eq!(ten.tokens.expiry_ms, Some(1_767_225_600_123));
    assert_eq!(ten.metadata.email.as_deref(), Some("ten@example.com"));
    assert_eq!((ten.metadata.project_id.as_deref(), ten.metadata.tier.as_deref()), (Some("proj-10"), Some("PRO")));
    assert_eq!(ten.client_id.as_deref(), Some("custom-client"));
    assert_eq!(ten.tokens.scope.as_deref(), Some("a b"));
    assert_eq!(ten.source, CredentialSource::Env { index: 10 });
    assert_no_secret(&format!("{creds:?}"));
}

#[test]
fn unnumbered_environment_credential_is_index_zero() {
    let env = env_pairs(&[
        ("QWEN_CODE_ACCESS_TOKEN", "qa"),
        ("QWEN_CODE_REFRESH_TOKEN", "qr"),
        ("QWEN_CODE_EXPIRY_DATE", "0"),
        ("IFLOW_ACCESS_TOKEN", "ia"),
        ("IFLOW_REFRESH_TOKEN", "ir"),
    ]);
    let qwen = load_env(&env, OAuthProvider::QwenCode);
    assert_eq!(qwen.len(), 1);
    assert_eq!(qwen[0].source, CredentialSource::Env { index: 0 });
    assert_eq!(qwen[0].display_id(), "env://qwen_code/0");
    assert_eq!(qwen[0].metadata.email.as_deref(), Some("env-user"));
    assert_eq!(qwen[0].tokens.resource_url.as_deref(), Some("https://portal.qwen.ai/v1"));
    assert_eq!(qwen[0].tokens.expiry_ms, Some(0));
    assert!(load_env(&env, OAuthProvider::Iflow).is_empty(), "iFlow needs an API key");

    let env = env_pairs(&[
        ("IFLOW_1_ACCESS_TOKEN", "ia"),
        ("IFLOW_1_REFRESH_TOKEN", "ir"),
        ("IFLOW_1_API_KEY", "sk-1"),
        ("IFLOW_1_EXPIRY_DATE", "2026-01-17T12:00:00Z"),
    ]);
    let iflow = load_env(&env, OAuthProvider::Iflow);
    assert_eq!(iflow[0].tokens.expiry_ms, Some(1_768_651_200_000));
    assert_eq!(iflow[0].tokens.token_type.as_deref(), Some("Bearer"));
    assert_eq!(iflow[0].tokens.scope.as_deref(), Some("read write"));
    assert_eq!(iflow[0].metadata.email.as_deref(), Some("env-user-1"));
    let out = to_file_json(&iflow[0]);
    assert_eq!(out["expiry_date"], json!("2026-01-17T12:00:00.000000Z"));
    assert_eq!(out["_proxy_metadata"]["loaded_from_env"], json!(true));
    assert_eq!(out["_proxy_metadata"]["env_credential_index"], json!("1"));
}

#[test]
fn load_all_prefers_environment_credentials_and_lists_the_ignored_files() {
    let home = tempfile::tempdir().unwrap();
    write_raw(home.path(), "qwen_code_oauth_1.json", PY_QWEN);
    write_raw(home.path(), "qwen_code_oauth_2.json", PY_QWEN);
    let env = env_pairs(&[("QWEN_CODE_1_ACCESS_TOKEN", "a"), ("QWEN_CODE_1_REFRESH_TOKEN", "r")]);
    let (creds, warnings) = load_all(&env, home.path(), OAuthProvider::QwenCode);
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0].source, CredentialSource::Env { index: 1 });
    assert_eq!(
        warnings,
        ["qwen_code: environment credentials are in use; ignoring qwen_code_oauth_1.json, qwen_code_oauth_2.json"]
    );

    // Without environment credentials the files are used and deduplicated.
    let (creds, warnings) = load_all(&Env::default(), home.path(), OAuthProvider::QwenCode);
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0].display_id(), "qwen_code_oauth_1.json");
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("qwen_code_oauth_2.json duplicates qwen_code_oauth_1.json (same refresh token)"));
    assert_no_secret(&warnings.join("\n"));
}

#[test]
fn dedupe_keeps_the_lower_number_for_same_email_or_refresh_token() {
    let at = |number: u32, json: &str| {
        let name = format!("gemini_cli_oauth_{number}.json");
        parse_file(OAuthProvider::GeminiCli, Path::new(&name), number, json.as_bytes()).unwrap()
    };
    let creds = vec![
        at(5, &PY_GEMINI.replace("1//0gSecretRefreshToken", "other-1")),
        at(3, &PY_GEMINI.replace("User@Gmail.com", "user@gmail.COM").replace("1//0gSecretRefreshToken", "other-2")),
        at(4, &PY_GEMINI.replace("User@Gmail.com", "someone@else.com")),
        at(7, &PY_GEMINI.replace("User@Gmail.com", "new@else.com").replace("1//0gSecretRefreshToken", "other-3")),
    ];
    let (kept, warnings) = dedupe(creds);
    let ids: Vec<String> = kept.iter().map(StoredCredential::display_id).collect();
    assert_eq!(ids, ["gemini_cli_oauth_3.json", "gemini_cli_oauth_4.json", "gemini_cli_oauth_7.json"]);
    assert_eq!(warnings, ["gemini_cli_oauth_5.json duplicates gemini_cli_oauth_3.json (same e-mail); ignored"]);
    // The same refresh token under different e-mails is one account too.
    let (kept, warnings) = dedupe(vec![at(2, &PY_GEMINI.replace("User@Gmail.com", "x@y.z")), at(1, PY_GEMINI)]);
    assert_eq!(kept.len(), 1);
    assert!(warnings[0].contains("(same refresh token)"));
    assert_no_secret(&warnings.join("\n"));
}

#[test]
fn env_state_replaces_consumed_tokens_only_while_the_environment_token_is_unchanged() {
    let home = tempfile::tempdir().unwrap();
    let env = env_pairs(&[
        ("QWEN_CODE_1_ACCESS_TOKEN", "env-secret-access"),
        ("QWEN_CODE_1_REFRESH_TOKEN", "env-secret-refresh-0"),
    ]);
    let (creds, warnings) = load_all(&env, home.path(), OAuthProvider::QwenCode);
    assert!(warnings.is_empty());
    let mut refreshed = creds[0].clone();
    refreshed.tokens.access_token = Some("env-secret-access-1".into());
    refreshed.tokens.refresh_token = Some("env-secret-refresh-1".into());
    refreshed.tokens.expiry_ms = Some(1_900_000_000_000);
    save_env_state(home.path(), &refreshed, "env-secret-refresh-0").unwrap();
    let state = env_state_path(home.path(), OAuthProvider::QwenCode, 1);
    assert!(state.ends_with("oauth_creds/.env-state/qwen_code_1.json"));
    assert_eq!(mode(&state), 0o600);
    let saved: Value = serde_json::from_slice(&fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved[REPLACED_HASH], json!(sha256_hex("env-secret-refresh-0")));
    assert_eq!(saved["refresh_token"], json!("env-secret-refresh-1"));

    let (creds, warnings) = load_all(&env, home.path(), OAuthProvider::QwenCode);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(reveal(&creds[0].tokens.refresh_token), Some("env-secret-refresh-1"));
    assert_eq!(reveal(&creds[0].tokens.access_token), Some("env-secret-access-1"));
    assert_eq!(creds[0].tokens.expiry_ms, Some(1_900_000_000_000));
    assert_eq!(creds[0].source, CredentialSource::Env { index: 1 });

    // A second refresh passes the token it consumed; the environment token's hash is kept.
    let mut again = creds[0].clone();
    again.tokens.refresh_token = Some("env-secret-refresh-2".into());
    save_env_state(home.path(), &again, "env-secret-refresh-1").unwrap();
    let (creds, _) = load_all(&env, home.path(), OAuthProvider::QwenCode);
    assert_eq!(reveal(&creds[0].tokens.refresh_token), Some("env-secret-refresh-2"));

    // The operator put a new token in the environment: the saved state no longer applies.
    let changed = env_pairs(&[
        ("QWEN_CODE_1_ACCESS_TOKEN", "env-secret-access"),
        ("QWEN_CODE_1_REFRESH_TOKEN", "env-secret-refresh-new"),
    ]);
    let (creds, warnings) = load_all(&changed, home.path(), OAuthProvider::QwenCode);
    assert_eq!(reveal(&creds[0].tokens.refresh_token), Some("env-secret-refresh-new"));
    assert_eq!(warnings.len(), 1);
    assert_no_secret(&warnings.join("\n"));

    // File credentials have no .env-state.
    assert!(save_env_state(home.path(), &parse(OAuthProvider::QwenCode, PY_QWEN), "x").is_err());
}

#[test]
fn import_paths_copies_once_in_path_order_and_ignores_other_oauth_names() {
    let home = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let b = src.path().join("b.json");
    let a = src.path().join("a.json");
    fs::write(&b, PY_GEMINI).unwrap();
    fs::write(&a, OFFICIAL_GEMINI_CLI).unwrap();
    fs::write(src.path().join("bad.json"), "not json").unwrap();
    let env = env_pairs(&[
        ("HOME", src.path().to_str().unwrap()),
        ("GEMINI_CLI_OAUTH_1", b.to_str().unwrap()),
        ("GEMINI_CLI_OAUTH_2", "~/a.json"),
        ("GEMINI_CLI_OAUTH_3", "~/bad.json"),
        ("GEMINI_CLI_OAUTH_PORT", "8085"),
        ("GEMINI_CLI_OAUTH_X", a.to_str().unwrap()),
        ("QWEN_CODE_OAUTH_1", "/nonexistent/file.json"),
    ]);
    let lines = import_paths(&env, home.path());
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].contains("a.json") && lines[0].ends_with("gemini_cli_oauth_1.json"), "{lines:?}");
    assert!(lines[1].contains("b.json") && lines[1].ends_with("gemini_cli_oauth_2.json"), "{lines:?}");
    assert!(lines[2].starts_with("not imported") && lines[2].contains("bad.json"));
    let imported = file_path(home.path(), OAuthProvider::GeminiCli, 1);
    assert_eq!(fs::read(&imported).unwrap(), OFFICIAL_GEMINI_CLI.as_bytes());
    assert_eq!(mode(&imported), 0o600);
    assert_eq!(load_files(home.path(), OAuthProvider::GeminiCli).0.len(), 2);
    assert!(!file_path(home.path(), OAuthProvider::GeminiCli, 3).exists());
    assert!(!file_path(home.path(), OAuthProvider::QwenCode, 1).exists());
    // One-time: files of the provider exist now.
    assert!(import_paths(&env, home.path()).is_empty());
    assert_no_secret(&lines.join("\n"));
}

// ---- dates --------------------------------------------------------------------------------

#[test]
fn iso_dates_parse_and_format() {
    assert_eq!(parse_iso_ms("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_iso_ms("2026-01-17T12:00:00.123456Z"), Some(1_768_651_200_123));
    assert_eq!(parse_iso_ms("2026-01-17T14:00:00+02:00"), Some(1_768_651_200_000));
    assert_eq!(parse_iso_ms("2026-01-17T10:30:00-0130"), Some(1_768_651_200_000));
    assert_eq!(parse_iso_ms("2026-01-17 12:00"), Some(1_768_651_200_000));
    assert_eq!(parse_iso_ms("2024-02-29T00:00:00"), Some(1_709_164_800_000));
    for bad in
        ["", "2026-02-30T00:00:00Z", "2026-01-17T12:00:00.Z", "2026-01-17T25:00:00Z", "2026-01-17T12:00:00Zx", "soon"]
    {
        assert_eq!(parse_iso_ms(bad), None, "{bad}");
    }
    assert_eq!(format_iso_micros(1_768_651_200_123), "2026-01-17T12:00:00.123000Z");
    assert_eq!(format_iso_micros(0), "1970-01-01T00:00:00.000000Z");
    assert_eq!(format_iso_seconds(1_709_164_800_999), "2024-02-29T00:00:00Z");
    for ms in [0, 951_782_400_000, 1_767_225_600_123, 4_102_444_799_999] {
        assert_eq!(parse_iso_ms(&format_iso_micros(ms)), Some(ms));
    }
}
