//! The OAuth providers and their endpoints, clients and callback ports (credentials
//! specification §9–§13), each endpoint overridable by an environment variable.

use crate::config::Env;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OAuthProvider {
    GeminiCli,
    Antigravity,
    QwenCode,
    Iflow,
}

/// How a provider logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// Authorization code with PKCE (S256) and a loopback redirect.
    AuthCodePkce,
    /// Authorization code without PKCE, token call with HTTP Basic client auth (iFlow).
    AuthCodeBasic,
    /// Device authorization grant with PKCE (Qwen Code).
    Device,
}

impl OAuthProvider {
    pub const ALL: [Self; 4] = [Self::GeminiCli, Self::Antigravity, Self::QwenCode, Self::Iflow];

    /// The provider name (`gemini_cli`), also the file prefix (`gemini_cli_oauth_<N>.json`).
    pub fn name(self) -> &'static str {
        match self {
            Self::GeminiCli => "gemini_cli",
            Self::Antigravity => "antigravity",
            Self::QwenCode => "qwen_code",
            Self::Iflow => "iflow",
        }
    }

    /// The environment prefix (`GEMINI_CLI`).
    pub fn env_prefix(self) -> &'static str {
        match self {
            Self::GeminiCli => "GEMINI_CLI",
            Self::Antigravity => "ANTIGRAVITY",
            Self::QwenCode => "QWEN_CODE",
            Self::Iflow => "IFLOW",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn flow(self) -> FlowKind {
        match self {
            Self::GeminiCli | Self::Antigravity => FlowKind::AuthCodePkce,
            Self::QwenCode => FlowKind::Device,
            Self::Iflow => FlowKind::AuthCodeBasic,
        }
    }

    /// Google-family credential files (§4.3).
    pub fn is_google(self) -> bool {
        matches!(self, Self::GeminiCli | Self::Antigravity)
    }

    /// Seconds before expiry at which a token is refreshed (§6).
    pub fn refresh_buffer_secs(self) -> i64 {
        match self {
            Self::GeminiCli | Self::Antigravity => 1800,
            Self::QwenCode => 10_800,
            Self::Iflow => 86_400,
        }
    }
}

const GOOGLE_AUTH: &str = "https://accounts.google.com/o/oauth2/v2/auth";
const GOOGLE_TOKEN: &str = "https://oauth2.googleapis.com/token";
const GOOGLE_USERINFO: &str = "https://www.googleapis.com/oauth2/v1/userinfo";
const GOOGLE_SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
];

/// Everything a login or refresh of one provider needs, with the environment's overrides
/// applied (§13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthEndpoints {
    pub provider: OAuthProvider,
    pub auth_uri: String,
    pub token_uri: String,
    /// Google and iFlow user info; `None` for Qwen Code (no such endpoint).
    pub userinfo_uri: Option<String>,
    /// Qwen Code's device-code endpoint.
    pub device_code_uri: Option<String>,
    /// iFlow cookie flow: the API-key endpoint.
    pub apikey_uri: Option<String>,
    pub client_id: String,
    /// Public installed-application secrets (not secrets in practice, but never logged anyway).
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    /// Loopback callback path (`/oauth2callback`) and port (`--port` wins over this).
    pub callback_path: &'static str,
    pub callback_port: u16,
}

impl OAuthEndpoints {
    pub fn resolve(provider: OAuthProvider, env: &Env) -> Self {
        let prefix = provider.env_prefix();
        let var = |suffix: &str, default: &str| {
            env.get_nonempty(&format!("{prefix}_{suffix}")).unwrap_or(default).trim().to_string()
        };
        let port = |default: u16| {
            env.get_nonempty(&format!("{prefix}_OAUTH_PORT")).and_then(|p| p.trim().parse().ok()).unwrap_or(default)
        };
        match provider {
            OAuthProvider::GeminiCli | OAuthProvider::Antigravity => {
                let gemini = provider == OAuthProvider::GeminiCli;
                let mut scopes: Vec<String> = GOOGLE_SCOPES.iter().map(|s| (*s).to_string()).collect();
                if !gemini {
                    scopes.push("https://www.googleapis.com/auth/cclog".into());
                    scopes.push("https://www.googleapis.com/auth/experimentsandconfigs".into());
                }
                let (client_id, client_secret) = if gemini {
                    (
                        "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
                        "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",
                    )
                } else {
                    (
                        "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com",
                        "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",
                    )
                };
                Self {
                    provider,
                    auth_uri: var("AUTH_URI", GOOGLE_AUTH),
                    token_uri: var("TOKEN_URI", GOOGLE_TOKEN),
                    userinfo_uri: Some(var("USERINFO_URI", GOOGLE_USERINFO)),
                    device_code_uri: None,
                    apikey_uri: None,
                    client_id: var("CLIENT_ID", client_id),
                    client_secret: Some(var("CLIENT_SECRET", client_secret)),
                    scopes,
                    callback_path: if gemini { "/oauth2callback" } else { "/oauthcallback" },
                    callback_port: port(if gemini { 8085 } else { 51121 }),
                }
            }
            OAuthProvider::QwenCode => Self {
                provider,
                auth_uri: String::new(),
                token_uri: var("TOKEN_URI", "https://chat.qwen.ai/api/v1/oauth2/token"),
                userinfo_uri: None,
                device_code_uri: Some(var("DEVICE_CODE_URI", "https://chat.qwen.ai/api/v1/oauth2/device/code")),
                apikey_uri: None,
                client_id: var("CLIENT_ID", "f0304373b74a44d2b584a3fb70ca9e56"),
                client_secret: None,
                scopes: vec!["openid profile email model.completion".into()],
                callback_path: "",
                callback_port: 0,
            },
            OAuthProvider::Iflow => Self {
                provider,
                auth_uri: var("AUTH_URI", "https://iflow.cn/oauth"),
                token_uri: var("TOKEN_URI", "https://iflow.cn/oauth/token"),
                userinfo_uri: Some(var("USERINFO_URI", "https://iflow.cn/api/oauth/getUserInfo")),
                device_code_uri: None,
                apikey_uri: Some(var("APIKEY_URI", "https://platform.iflow.cn/api/openapi/apikey")),
                client_id: var("CLIENT_ID", "10009311001"),
                client_secret: Some(var("CLIENT_SECRET", "4Z3YjXycVsQvyGF1etiNlIBB4RsqSDtW")),
                scopes: Vec::new(),
                callback_path: "/oauth2callback",
                callback_port: port(11451),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_takes_its_override() {
        let env = Env::from_pairs([
            ("GEMINI_CLI_TOKEN_URI", "http://127.0.0.1:9/token"),
            ("GEMINI_CLI_OAUTH_PORT", "9999"),
            ("QWEN_CODE_DEVICE_CODE_URI", "http://127.0.0.1:9/device"),
        ]);
        let gemini = OAuthEndpoints::resolve(OAuthProvider::GeminiCli, &env);
        assert_eq!((gemini.token_uri.as_str(), gemini.callback_port), ("http://127.0.0.1:9/token", 9999));
        assert_eq!(gemini.auth_uri, GOOGLE_AUTH);
        let qwen = OAuthEndpoints::resolve(OAuthProvider::QwenCode, &env);
        assert_eq!(qwen.device_code_uri.as_deref(), Some("http://127.0.0.1:9/device"));
        let antigravity = OAuthEndpoints::resolve(OAuthProvider::Antigravity, &env);
        assert_eq!(
            (antigravity.callback_path, antigravity.callback_port, antigravity.scopes.len()),
            ("/oauthcallback", 51121, 5)
        );
    }
}
