//! Qwen's device authorization grant (RFC 8628 with PKCE): `POST /device/code`, then token polls whose answers
//! follow a per-code script.

use std::time::{Duration, Instant};

use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{Family, IssuedTokens, Shared, field, json_response, oauth_error, pkce_matches};

pub(super) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub(super) const QWEN_SCOPE: &str = "openid profile email model.completion";
pub(super) const DEFAULT_SCRIPT: &[DeviceStep] = &[DeviceStep::Pending, DeviceStep::SlowDown, DeviceStep::Success];

/// The answer to one token poll of a device code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceStep {
    /// 400 `authorization_pending`.
    Pending,
    /// 429 `slow_down` (as the Qwen service sends it).
    SlowDown,
    /// 400 `slow_down` (as RFC 8628 specifies it).
    SlowDown400,
    /// 400 `access_denied`.
    Denied,
    /// 400 `expired_token`.
    Expired,
    /// 200 with tokens; the device code is used up.
    Success,
}

pub(super) struct Device {
    pub device_code: String,
    client_id: String,
    challenge: String,
    method: String,
    issued: Instant,
    expires_in: u64,
    script: Vec<DeviceStep>,
    /// When each token poll arrived.
    pub polls: Vec<Instant>,
    /// Script steps answered so far (polls refused before the script do not count).
    steps: usize,
    used: bool,
}

/// `POST /device/code` (form `client_id`, `scope`, `code_challenge`, `code_challenge_method`).
pub(super) fn authorize(shared: &Shared, form: &Map<String, Value>) -> Response {
    let client_id = field(form, "client_id");
    if client_id.is_empty() {
        return oauth_error(400, "invalid_request", "client_id is required");
    }
    let challenge = field(form, "code_challenge");
    if challenge.is_empty() {
        return oauth_error(400, "invalid_request", "code_challenge is required");
    }
    let method = match field(form, "code_challenge_method") {
        "" | "S256" => "S256",
        "plain" => "plain",
        other => return oauth_error(400, "invalid_request", &format!("unsupported code_challenge_method: {other}")),
    };
    let (interval, expires_in, script) = {
        let s = shared.settings();
        (s.device_interval, s.device_expires_in, s.device_script.clone())
    };
    let mut devices = shared.devices.lock().unwrap();
    let n = devices.len() + 1;
    let device_code = format!("dc-mock-{n}-{:08x}", rand::random::<u32>());
    let user_code = format!("MOCK-{n:04}");
    devices.push(Device {
        device_code: device_code.clone(),
        client_id: client_id.to_owned(),
        challenge: challenge.to_owned(),
        method: method.to_owned(),
        issued: Instant::now(),
        expires_in,
        script,
        polls: Vec::new(),
        steps: 0,
        used: false,
    });
    let interval = if interval.fract() == 0.0 && interval >= 0.0 { json!(interval as u64) } else { json!(interval) };
    json_response(
        200,
        &json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": format!("{}/device", shared.base),
            "verification_uri_complete": format!("{}/device?user_code={user_code}&client=qwen-code", shared.base),
            "expires_in": expires_in,
            "interval": interval,
        }),
    )
}

/// `POST /token` with the device-code grant: checks the code, client and PKCE verifier, records the poll time, and
/// answers the next step of the code's script.
pub(super) fn poll(shared: &Shared, form: &Map<String, Value>) -> Response {
    let now = Instant::now();
    let mut devices = shared.devices.lock().unwrap();
    let Some(device) = devices.iter_mut().find(|d| d.device_code == field(form, "device_code")) else {
        return oauth_error(400, "invalid_grant", "Invalid device code.");
    };
    device.polls.push(now);
    if device.used {
        return oauth_error(400, "invalid_grant", "The device code has already been used.");
    }
    if now.duration_since(device.issued) >= Duration::from_secs(device.expires_in) {
        return oauth_error(400, "expired_token", "The device code has expired.");
    }
    if device.client_id != field(form, "client_id") {
        return oauth_error(401, "invalid_client", "Client authentication failed.");
    }
    match field(form, "code_verifier") {
        "" => return oauth_error(400, "invalid_grant", "Missing code verifier."),
        v if !pkce_matches(&device.challenge, &device.method, v) => {
            return oauth_error(400, "invalid_grant", "Invalid code verifier.");
        }
        _ => {}
    }
    let step = device.script[device.steps.min(device.script.len() - 1)];
    device.steps += 1;
    match step {
        DeviceStep::Pending => oauth_error(
            400,
            "authorization_pending",
            "The authorization request is still pending as the end user hasn't yet completed the user-interaction steps.",
        ),
        DeviceStep::SlowDown => oauth_error(429, "slow_down", "The client is polling too frequently."),
        DeviceStep::SlowDown400 => oauth_error(400, "slow_down", "The client is polling too frequently."),
        DeviceStep::Denied => oauth_error(400, "access_denied", "The end user denied the authorization request."),
        DeviceStep::Expired => oauth_error(400, "expired_token", "The device code has expired."),
        DeviceStep::Success => {
            device.used = true;
            let client_id = device.client_id.clone();
            drop(devices);
            let (email, expires_in) = {
                let s = shared.settings();
                (s.email.clone(), s.expires_in(Family::Qwen))
            };
            let issued = shared.tokens.issue(Family::Qwen, &client_id, &email, QWEN_SCOPE, expires_in);
            json_response(200, &token_answer(shared, &issued))
        }
    }
}

/// Qwen's token answer (device grant and refresh): always carries the grant's refresh token.
pub(super) fn token_answer(shared: &Shared, issued: &IssuedTokens) -> Value {
    let mut v = json!({
        "access_token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    });
    if let Some(url) = &shared.settings().resource_url {
        v["resource_url"] = json!(url);
    }
    v
}
