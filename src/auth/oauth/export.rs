//! `llmkp auth export` (credentials specification §8.2): an OAuth credential as the numbered
//! `<PREFIX>_<N>_*` environment variables of §5, in the Python project's layout, so the output
//! loads back (through `.env` or the environment) as the same credential.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::store::format_iso_micros;
use super::{OAuthProvider, StoredCredential};

const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const DEFAULT_UNIVERSE_DOMAIN: &str = "googleapis.com";
const DEFAULT_QWEN_RESOURCE_URL: &str = "https://portal.qwen.ai/v1";

/// A credential that cannot be exported. Messages name the credential, never a value.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{id} is an iFlow cookie credential; cookie credentials cannot be exported")]
    Cookie { id: String },
    #[error("{id} has no {field} yet; refresh it (or log in again) before exporting")]
    Missing { id: String, field: &'static str },
    #[error("the {field} of {id} contains both `${{` and a quote or backslash, which a .env file cannot hold")]
    Unrepresentable { id: String, field: &'static str },
}

/// The `.env` lines of one credential: the commented header, a blank line, then one
/// `<PREFIX>_<number>_<FIELD>=value` line per field in the documented order. Ends with a newline.
pub fn export_lines(credential: &StoredCredential, number: u32, generated_at: &str) -> Result<String, ExportError> {
    let id = credential.display_id();
    if credential.is_cookie() {
        return Err(ExportError::Cookie { id });
    }
    let missing = |field| ExportError::Missing { id: id.clone(), field };
    let tokens = &credential.tokens;
    let reveal = |secret: &Option<SecretString>| secret.as_ref().map(|s| s.expose_secret().to_string());
    let text = |value: &Option<String>, default: &str| value.clone().unwrap_or_else(|| default.to_string());
    let email = credential.metadata.email.clone().unwrap_or_default();

    let mut vars: Vec<(&'static str, String)> = vec![
        ("ACCESS_TOKEN", reveal(&tokens.access_token).ok_or_else(|| missing("access token"))?),
        ("REFRESH_TOKEN", reveal(&tokens.refresh_token).ok_or_else(|| missing("refresh token"))?),
    ];
    match credential.provider {
        OAuthProvider::GeminiCli | OAuthProvider::Antigravity => {
            let meta = &credential.metadata;
            vars.extend([
                ("SCOPE", text(&tokens.scope, "")),
                ("TOKEN_TYPE", text(&tokens.token_type, "Bearer")),
                ("ID_TOKEN", reveal(&tokens.id_token).unwrap_or_default()),
                ("EXPIRY_DATE", tokens.expiry_ms.unwrap_or(0).to_string()),
                ("CLIENT_ID", text(&credential.client_id, "")),
                ("CLIENT_SECRET", reveal(&credential.client_secret).unwrap_or_default()),
                ("TOKEN_URI", text(&credential.token_uri, DEFAULT_TOKEN_URI)),
                ("UNIVERSE_DOMAIN", universe_domain(credential)),
                ("EMAIL", email),
            ]);
            let known = [("PROJECT_ID", &meta.project_id), ("TIER", &meta.tier), ("TIER_FULL", &meta.tier_full)];
            vars.extend(known.into_iter().filter_map(|(name, value)| value.clone().map(|v| (name, v))));
        }
        OAuthProvider::QwenCode => vars.extend([
            ("EXPIRY_DATE", tokens.expiry_ms.unwrap_or(0).to_string()),
            ("RESOURCE_URL", text(&tokens.resource_url, DEFAULT_QWEN_RESOURCE_URL)),
            ("EMAIL", email),
        ]),
        OAuthProvider::Iflow => vars.extend([
            ("API_KEY", reveal(&tokens.api_key).ok_or_else(|| missing("API key"))?),
            ("EXPIRY_DATE", tokens.expiry_ms.map(format_iso_micros).unwrap_or_default()),
            ("EMAIL", email),
            ("TOKEN_TYPE", text(&tokens.token_type, "Bearer")),
            ("SCOPE", text(&tokens.scope, "read write")),
        ]),
    }

    let env_prefix = credential.provider.env_prefix();
    let shown_email = comment_safe(credential.metadata.email.as_deref().unwrap_or("unknown"));
    let mut out = format!(
        "# {env_prefix} Credential #{number} for: {shown_email}\n\
         # Exported from: {}\n\
         # Generated at: {}\n\
         #\n\
         # To combine several credentials in one .env file, give each a distinct number.\n\n",
        comment_safe(&id),
        comment_safe(generated_at),
    );
    for (field, value) in vars {
        let value = quote(&value).ok_or_else(|| ExportError::Unrepresentable { id: id.clone(), field })?;
        out.push_str(&format!("{env_prefix}_{number}_{field}={value}\n"));
    }
    Ok(out)
}

/// `universe_domain` of the file (top level or nested `credential` object), else the default.
fn universe_domain(credential: &StoredCredential) -> String {
    let raw = &credential.raw;
    let nested = raw.get("credential").and_then(Value::as_object);
    [raw.get("universe_domain"), nested.and_then(|n| n.get("universe_domain"))]
        .into_iter()
        .flatten()
        .find_map(|v| v.as_str().map(str::trim).filter(|s| !s.is_empty()))
        .unwrap_or(DEFAULT_UNIVERSE_DOMAIN)
        .to_string()
}

/// A comment line cannot hold a line break.
fn comment_safe(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// A value as written after `=`: unquoted unless it contains whitespace, `#`, a quote or `$`;
/// then double-quoted with `\\`, `\"`, `\n`, `\r`, `\t` escapes. A value containing `${` (which
/// double quotes would expand) is single-quoted (literal) instead; `None` when it also holds a
/// single quote or backslash, which no `.env` quoting can then carry both ways.
fn quote(value: &str) -> Option<String> {
    let plain = !value.chars().any(|c| c.is_whitespace() || matches!(c, '#' | '"' | '\'' | '$'));
    if plain {
        return Some(value.to_string());
    }
    if value.contains("${") {
        return (!value.contains(['\'', '\\'])).then(|| format!("'{value}'"));
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    Some(out)
}

/// `--out-dir` file name: `<provider>_<N>_<email>.env` with `@` → `_at_`, `.` → `_` (and any
/// other character unsafe in a file name → `_`), e.g. `gemini_cli_1_user_at_gmail_com.env`.
pub fn out_dir_file_name(provider: OAuthProvider, number: u32, email: Option<&str>) -> String {
    let email = email.map(str::trim).filter(|e| !e.is_empty()).unwrap_or("unknown");
    let safe: String = email
        .replace('@', "_at_")
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '_' | '-' | '+') { c } else { '_' })
        .collect();
    format!("{}_{number}_{safe}.env", provider.name())
}

/// `--combine` file name: `<provider>_all_combined.env`, or `all_providers_combined.env` for
/// `auth export all`.
pub fn combined_file_name(provider: Option<OAuthProvider>) -> String {
    provider.map_or_else(|| "all_providers_combined.env".to_string(), |p| format!("{}_all_combined.env", p.name()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::auth::oauth::store;
    use crate::config::Env;
    use crate::config::dotenv::parse_dotenv;

    const GEMINI_FILE: &str = r#"{"access_token": "ya29.a0-access", "refresh_token": "1//0g-refresh",
        "scope": "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
        "token_type": "Bearer", "id_token": "eyJ-id", "expiry_date": 1767225600000,
        "client_id": "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
        "client_secret": "GOCSPX-secret", "token_uri": "https://oauth2.googleapis.com/token",
        "universe_domain": "googleapis.com",
        "_proxy_metadata": {"email": "user@gmail.com", "last_check_timestamp": 1767220000.1,
          "project_id": "my-proj-123", "tier": "PRO", "tier_full": "Google One AI PRO"}}"#;
    const QWEN_FILE: &str = r#"{"access_token": "qwen-access", "refresh_token": "qwen-refresh", "token_type": "Bearer",
        "expiry_date": 1767225600000, "resource_url": "portal.qwen.ai",
        "_proxy_metadata": {"email": "me@example.com", "last_check_timestamp": 1767220000.0}}"#;
    const IFLOW_FILE: &str = r#"{"access_token": "iflow-access", "refresh_token": "iflow-refresh", "api_key": "sk-iflow",
        "email": "me@example.com", "expiry_date": "2026-01-17T12:00:00.123456Z", "token_type": "Bearer",
        "scope": "read write", "_proxy_metadata": {"email": "me@example.com", "last_check_timestamp": 1767220000.0,
        "credential_type": "oauth"}}"#;
    const IFLOW_COOKIE: &str = r#"{"cookie": "BXAuth=cookie-value;", "api_key": "sk-cookie", "name": "my-key",
        "expire_time": "2026-02-01 12:00", "email": "my-key",
        "_proxy_metadata": {"email": "my-key", "credential_type": "cookie", "last_check_timestamp": 1767220000.0}}"#;

    fn parse(provider: OAuthProvider, number: u32, json: &str) -> StoredCredential {
        let name = format!("{}_oauth_{number}.json", provider.name());
        store::parse_file(provider, Path::new("/h/oauth_creds").join(name).as_path(), number, json.as_bytes()).unwrap()
    }

    fn reload(text: &str) -> Env {
        let parsed = parse_dotenv(text, &|_| None);
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        Env::from_pairs(parsed.entries)
    }

    fn secret(s: &Option<SecretString>) -> Option<&str> {
        s.as_ref().map(|s| s.expose_secret())
    }

    #[test]
    fn gemini_export_matches_the_documented_layout() {
        let credential = parse(OAuthProvider::GeminiCli, 1, GEMINI_FILE);
        let text = export_lines(&credential, 1, "2026-01-01 12:00:00").unwrap();
        let expected = "\
# GEMINI_CLI Credential #1 for: user@gmail.com
# Exported from: gemini_cli_oauth_1.json
# Generated at: 2026-01-01 12:00:00
#
# To combine several credentials in one .env file, give each a distinct number.

GEMINI_CLI_1_ACCESS_TOKEN=ya29.a0-access
GEMINI_CLI_1_REFRESH_TOKEN=1//0g-refresh
GEMINI_CLI_1_SCOPE=\"https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile\"
GEMINI_CLI_1_TOKEN_TYPE=Bearer
GEMINI_CLI_1_ID_TOKEN=eyJ-id
GEMINI_CLI_1_EXPIRY_DATE=1767225600000
GEMINI_CLI_1_CLIENT_ID=681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com
GEMINI_CLI_1_CLIENT_SECRET=GOCSPX-secret
GEMINI_CLI_1_TOKEN_URI=https://oauth2.googleapis.com/token
GEMINI_CLI_1_UNIVERSE_DOMAIN=googleapis.com
GEMINI_CLI_1_EMAIL=user@gmail.com
GEMINI_CLI_1_PROJECT_ID=my-proj-123
GEMINI_CLI_1_TIER=PRO
GEMINI_CLI_1_TIER_FULL=\"Google One AI PRO\"
";
        assert_eq!(text, expected);
    }

    #[test]
    fn project_and_tier_lines_only_when_known() {
        let json = GEMINI_FILE
            .replace(r#""project_id": "my-proj-123", "tier": "PRO", "tier_full": "Google One AI PRO""#, r#""x": 1"#);
        let credential = parse(OAuthProvider::Antigravity, 3, &json);
        let text = export_lines(&credential, 3, "t").unwrap();
        assert!(text.starts_with(
            "# ANTIGRAVITY Credential #3 for: user@gmail.com\n# Exported from: antigravity_oauth_3.json\n"
        ));
        assert!(text.ends_with("ANTIGRAVITY_3_EMAIL=user@gmail.com\n"), "{text}");
        assert!(!text.contains("PROJECT_ID") && !text.contains("TIER"));
    }

    fn variable_names(text: &str) -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split_once('=').unwrap().0.to_string())
            .collect()
    }

    #[test]
    fn qwen_and_iflow_line_sets_in_order() {
        let qwen = export_lines(&parse(OAuthProvider::QwenCode, 2, QWEN_FILE), 2, "t").unwrap();
        assert_eq!(
            variable_names(&qwen),
            ["ACCESS_TOKEN", "REFRESH_TOKEN", "EXPIRY_DATE", "RESOURCE_URL", "EMAIL"]
                .map(|f| format!("QWEN_CODE_2_{f}"))
        );
        assert!(qwen.contains("QWEN_CODE_2_RESOURCE_URL=portal.qwen.ai\n"));
        let iflow = export_lines(&parse(OAuthProvider::Iflow, 4, IFLOW_FILE), 4, "t").unwrap();
        assert_eq!(
            variable_names(&iflow),
            ["ACCESS_TOKEN", "REFRESH_TOKEN", "API_KEY", "EXPIRY_DATE", "EMAIL", "TOKEN_TYPE", "SCOPE"]
                .map(|f| format!("IFLOW_4_{f}"))
        );
        assert!(iflow.contains("IFLOW_4_EXPIRY_DATE=2026-01-17T12:00:00.123000Z\n"), "{iflow}");
        assert!(iflow.contains("IFLOW_4_SCOPE=\"read write\"\n"));
    }

    #[test]
    fn cookie_credentials_cannot_be_exported() {
        let cookie = parse(OAuthProvider::Iflow, 5, IFLOW_COOKIE);
        let err = export_lines(&cookie, 5, "t").unwrap_err();
        assert!(matches!(err, ExportError::Cookie { .. }));
        let message = err.to_string();
        assert!(
            message.contains("iflow_oauth_5.json") && !message.contains("cookie-value") && !message.contains("sk-")
        );
    }

    #[test]
    fn missing_access_token_is_an_error_naming_the_credential_only() {
        let adc = r#"{"type": "authorized_user", "client_id": "c", "client_secret": "s3cr3t", "refresh_token": "1//adc-refresh"}"#;
        let err = export_lines(&parse(OAuthProvider::GeminiCli, 7, adc), 7, "t").unwrap_err();
        assert!(matches!(err, ExportError::Missing { field: "access token", .. }));
        assert!(!err.to_string().contains("adc-refresh"));
    }

    #[test]
    fn quoting_rules_and_readback_through_the_dotenv_parser() {
        let cases = [
            ("plain-token_1/2+3=", "plain-token_1/2+3="),
            ("a b", "\"a b\""),
            ("tab\there", "\"tab\\there\""),
            ("x#y", "\"x#y\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("it's", "\"it's\""),
            ("cost $5", "\"cost $5\""),
            ("back\\slash", "back\\slash"),
            ("back\\ slash", "\"back\\\\ slash\""),
            ("line1\nline2", "\"line1\\nline2\""),
            ("${HOME}/x", "'${HOME}/x'"),
            ("", ""),
        ];
        for (value, written) in cases {
            assert_eq!(quote(value).as_deref(), Some(written), "{value:?}");
            let parsed = parse_dotenv(&format!("K={written}\n"), &|_| Some("EXPANDED".into()));
            assert_eq!(parsed.entries, [("K".to_string(), value.to_string())], "{value:?}");
        }
        assert_eq!(quote("${A}'"), None);
        assert_eq!(quote("${A}\\"), None);
    }

    #[test]
    fn file_names() {
        assert_eq!(
            out_dir_file_name(OAuthProvider::GeminiCli, 1, Some("user@gmail.com")),
            "gemini_cli_1_user_at_gmail_com.env"
        );
        assert_eq!(out_dir_file_name(OAuthProvider::Iflow, 12, Some("a/b c@x.y")), "iflow_12_a_b_c_at_x_y.env");
        assert_eq!(out_dir_file_name(OAuthProvider::QwenCode, 2, None), "qwen_code_2_unknown.env");
        assert_eq!(combined_file_name(Some(OAuthProvider::Antigravity)), "antigravity_all_combined.env");
        assert_eq!(combined_file_name(None), "all_providers_combined.env");
    }

    fn assert_same(a: &StoredCredential, b: &StoredCredential) {
        let (x, y) = (&a.tokens, &b.tokens);
        assert_eq!(secret(&x.access_token), secret(&y.access_token));
        assert_eq!(secret(&x.refresh_token), secret(&y.refresh_token));
        assert_eq!(secret(&x.api_key), secret(&y.api_key));
        assert_eq!(secret(&x.id_token), secret(&y.id_token));
        assert_eq!(
            (x.expiry_ms, &x.scope, &x.token_type, &x.resource_url),
            (y.expiry_ms, &y.scope, &y.token_type, &y.resource_url)
        );
        assert_eq!((&a.client_id, &a.token_uri), (&b.client_id, &b.token_uri));
        assert_eq!(secret(&a.client_secret), secret(&b.client_secret));
        let (m, n) = (&a.metadata, &b.metadata);
        assert_eq!((&m.email, &m.project_id, &m.tier, &m.tier_full), (&n.email, &n.project_id, &n.tier, &n.tier_full));
    }

    #[test]
    fn export_round_trips_through_dotenv_and_load_env() {
        let cases = [
            (OAuthProvider::GeminiCli, GEMINI_FILE.to_string()),
            (
                OAuthProvider::Antigravity,
                GEMINI_FILE.replace("ya29.a0-access", r#"tok with \"quotes\" # and $dollar's \\ end"#),
            ),
            (OAuthProvider::QwenCode, QWEN_FILE.to_string()),
            (OAuthProvider::Iflow, IFLOW_FILE.to_string()),
        ];
        for (provider, json) in cases {
            let original = parse(provider, 3, &json);
            let env = reload(&export_lines(&original, 3, "2026-01-01 12:00:00").unwrap());
            let loaded = store::load_env(&env, provider);
            assert_eq!(loaded.len(), 1, "{provider:?}");
            assert_eq!(loaded[0].source, crate::auth::oauth::CredentialSource::Env { index: 3 });
            assert_eq!(loaded[0].display_id(), format!("env://{}/3", provider.name()));
            let mut expected = original.clone();
            if provider == OAuthProvider::QwenCode {
                // Not in Qwen Code's line set (§8.2); requests use `Bearer` regardless.
                expected.tokens.token_type = None;
            }
            assert_same(&expected, &loaded[0]);
        }
    }

    #[test]
    fn several_exports_combine_in_one_file() {
        let a = parse(OAuthProvider::QwenCode, 1, QWEN_FILE);
        let b = parse(OAuthProvider::QwenCode, 2, &QWEN_FILE.replace("qwen-refresh", "other").replace("me@", "you@"));
        let text = [export_lines(&a, 1, "t").unwrap(), export_lines(&b, 2, "t").unwrap()].join("\n");
        let loaded = store::load_env(&reload(&text), OAuthProvider::QwenCode);
        let emails: Vec<_> = loaded.iter().map(|c| c.metadata.email.clone().unwrap()).collect();
        assert_eq!(emails, ["me@example.com", "you@example.com"]);
    }
}
