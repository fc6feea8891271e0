//! Every environment variable llmkp reads, as one documented constant each.
//!
//! Names that embed a provider (`<P>_API_KEY_<suffix>`, `<NAME>_API_BASE`) are patterns, listed in
//! [`PATTERNS`]; everything else is a fixed name listed in [`FIXED`]. A test checks that
//! `.env.example` mentions each of them, so the documentation cannot drift from the code.

/// Home (data) directory: `.env`, `oauth_creds/`, state database, logs.
pub const LLMKP_HOME: &str = "LLMKP_HOME";
/// Listen address of `llmkp serve`.
pub const LLMKP_HOST: &str = "LLMKP_HOST";
/// Listen port of `llmkp serve` (wins over `PORT`).
pub const LLMKP_PORT: &str = "LLMKP_PORT";
/// Listen port, the platform convention (Heroku, Render, …).
pub const PORT: &str = "PORT";
/// The proxy key, taken literally.
pub const PROXY_API_KEY: &str = "PROXY_API_KEY";
/// Additional proxy keys, comma-separated.
pub const PROXY_API_KEYS: &str = "PROXY_API_KEYS";
/// Refuse to start without a proxy key.
pub const REQUIRE_PROXY_KEY: &str = "REQUIRE_PROXY_KEY";
/// `/healthz` without a key.
pub const HEALTH_PUBLIC: &str = "HEALTH_PUBLIC";
/// Allowed CORS origins (comma list or `*`).
pub const CORS_ALLOW_ORIGINS: &str = "CORS_ALLOW_ORIGINS";
/// Detailed request logs under `<home>/logs/detailed_logs/` (also `serve --enable-request-logging`).
pub const ENABLE_REQUEST_LOGGING: &str = "ENABLE_REQUEST_LOGGING";
/// Request-log folders older than this many hours are removed (default 168).
pub const REQUEST_LOG_MAX_AGE_HOURS: &str = "REQUEST_LOG_MAX_AGE_HOURS";
/// The oldest request-log folders are removed beyond this many MiB in total (default 512).
pub const REQUEST_LOG_MAX_MB: &str = "REQUEST_LOG_MAX_MB";
/// `GET /metrics` answers without the proxy key (default false).
pub const METRICS_PUBLIC: &str = "METRICS_PUBLIC";
/// Request body size limit in bytes.
pub const MAX_REQUEST_BODY_BYTES: &str = "MAX_REQUEST_BODY_BYTES";
/// Send `x-llmkp-*` routing headers.
pub const EXPOSE_ROUTING_HEADERS: &str = "EXPOSE_ROUTING_HEADERS";
/// Keep-alive comment after this much stream silence (s); 0 = off.
pub const SSE_KEEPALIVE_INTERVAL: &str = "SSE_KEEPALIVE_INTERVAL";
/// Drain time on SIGINT/SIGTERM (s).
pub const SHUTDOWN_GRACE_SECONDS: &str = "SHUTDOWN_GRACE_SECONDS";
/// Most client connections held open at once (also bounded by the open-file limit).
pub const MAX_CONNECTIONS: &str = "MAX_CONNECTIONS";
/// A request's headers (and an idle keep-alive connection's next request) must arrive within
/// this many seconds.
pub const REQUEST_HEADER_TIMEOUT: &str = "REQUEST_HEADER_TIMEOUT";
/// Longest silence (s) while a request body is being received.
pub const REQUEST_BODY_IDLE_TIMEOUT: &str = "REQUEST_BODY_IDLE_TIMEOUT";
/// Longest time (s) to receive a whole request body.
pub const REQUEST_BODY_TIMEOUT: &str = "REQUEST_BODY_TIMEOUT";
/// Outbound proxy for HTTPS upstream calls.
pub const HTTPS_PROXY: &str = "HTTPS_PROXY";
/// Outbound proxy for plain-HTTP upstream calls.
pub const HTTP_PROXY: &str = "HTTP_PROXY";
/// Hosts that bypass the outbound proxy.
pub const NO_PROXY: &str = "NO_PROXY";
/// Request deadline (s): bounds waits, retries and each attempt up to its response head.
pub const GLOBAL_TIMEOUT: &str = "GLOBAL_TIMEOUT";
/// Commit a stream this long (s) after the upstream head even without content.
pub const STREAM_COMMIT_TIMEOUT: &str = "STREAM_COMMIT_TIMEOUT";
/// TCP+TLS connect timeout (s).
pub const TIMEOUT_CONNECT: &str = "TIMEOUT_CONNECT";
/// Idle time allowed between stream reads (s).
pub const TIMEOUT_READ_STREAMING: &str = "TIMEOUT_READ_STREAMING";
/// Read time for bodies of non-streamed upstream calls (s).
pub const TIMEOUT_READ_NON_STREAMING: &str = "TIMEOUT_READ_NON_STREAMING";
/// Idle time allowed (s) between upstream reads while a stream is folded for a non-stream client.
pub const TIMEOUT_IDLE_NON_STREAMING: &str = "TIMEOUT_IDLE_NON_STREAMING";
/// Largest single upstream SSE line or event (bytes); a bigger one fails the attempt.
pub const MAX_UPSTREAM_EVENT_BYTES: &str = "MAX_UPSTREAM_EVENT_BYTES";
/// Largest non-stream upstream body (bytes); a bigger one fails the attempt.
pub const MAX_UPSTREAM_BODY_BYTES: &str = "MAX_UPSTREAM_BODY_BYTES";
/// Execute non-streaming client requests as upstream streams.
pub const UPSTREAM_STREAM_FOR_NON_STREAM: &str = "UPSTREAM_STREAM_FOR_NON_STREAM";
/// Upstream attempts per credential per request.
pub const MAX_ATTEMPTS_PER_CREDENTIAL: &str = "MAX_ATTEMPTS_PER_CREDENTIAL";
/// Base wait (s) before retrying after a transient error.
pub const TRANSIENT_RETRY_DELAY: &str = "TRANSIENT_RETRY_DELAY";
/// Extra uniform random wait (s), 0..value.
pub const TRANSIENT_RETRY_JITTER: &str = "TRANSIENT_RETRY_JITTER";
/// Same-credential retry after 429 only if the upstream's wait is at most this (s).
pub const SMALL_COOLDOWN_RETRY_THRESHOLD: &str = "SMALL_COOLDOWN_RETRY_THRESHOLD";
/// Model-list refresh interval (s).
pub const MODELS_CACHE_TTL: &str = "MODELS_CACHE_TTL";
/// Cooldowns (s) for consecutive failures without retry information.
pub const COOLDOWN_BACKOFF_LADDER: &str = "COOLDOWN_BACKOFF_LADDER";
/// Lockout lengths (s) after auth, forbidden and billing failures.
pub const COOLDOWN_AUTH_LADDER: &str = "COOLDOWN_AUTH_LADDER";
/// Upper bound of any cooldown (s).
pub const MAX_COOLDOWN_SECONDS: &str = "MAX_COOLDOWN_SECONDS";
/// A cooldown at least this long (s) marks fair-cycle exhaustion.
pub const EXHAUSTION_COOLDOWN_THRESHOLD: &str = "EXHAUSTION_COOLDOWN_THRESHOLD";
/// Balanced-mode randomness (0 = deterministic least-used).
pub const ROTATION_TOLERANCE: &str = "ROTATION_TOLERANCE";
/// Idle lifetime (s) of a sticky session entry.
pub const SESSION_TTL: &str = "SESSION_TTL";
/// How long (s) a request waits for its busy sticky credential.
pub const STICKY_WAIT_SECONDS: &str = "STICKY_WAIT_SECONDS";
/// What to do with `temperature: 0`: false, remove, or set (to 1.0).
pub const OVERRIDE_TEMPERATURE_ZERO: &str = "OVERRIDE_TEMPERATURE_ZERO";
pub const COUNT_TOKENS_MODE: &str = "COUNT_TOKENS_MODE";
pub const QWEN_CODE_DUMMY_TOOL: &str = "QWEN_CODE_DUMMY_TOOL";
pub const SKIP_OAUTH_INIT_CHECK: &str = "SKIP_OAUTH_INIT_CHECK";
pub const GEMINI_CLI_PROJECT_ID: &str = "GEMINI_CLI_PROJECT_ID";
pub const ANTIGRAVITY_PROJECT_ID: &str = "ANTIGRAVITY_PROJECT_ID";
pub const GOOGLE_CLOUD_PROJECT: &str = "GOOGLE_CLOUD_PROJECT";
pub const SIGNATURE_CACHE_TTL: &str = "SIGNATURE_CACHE_TTL";
pub const GEMINI_CLI_SIGNATURE_CACHE_TTL: &str = "GEMINI_CLI_SIGNATURE_CACHE_TTL";
/// Responses API answers kept for `previous_response_id` and `GET /v1/responses/{id}`: `state`
/// (in the state store: SQLite, or Redis with `LLMKP_STATE_URL`) or `off`.
pub const RESPONSES_STORE: &str = "RESPONSES_STORE";
/// How long a stored Response is kept (s).
pub const RESPONSES_STORE_TTL: &str = "RESPONSES_STORE_TTL";
/// Stored Responses kept at most; the oldest go first.
pub const RESPONSES_STORE_MAX: &str = "RESPONSES_STORE_MAX";
/// Names clients send mapped to `provider/model` (JSON object; glob keys allowed).
pub const MODEL_ALIASES: &str = "MODEL_ALIASES";
/// Ordered cross-provider fallbacks (JSON).
pub const MODEL_FALLBACK_GROUPS: &str = "MODEL_FALLBACK_GROUPS";
/// How often (ms) queued state changes are committed to the state database.
pub const STATE_FLUSH_INTERVAL_MS: &str = "STATE_FLUSH_INTERVAL_MS";
/// `redis://[user:pass@]host:port[/db]` or `rediss://…`: share credential state between several
/// `serve` instances through Redis instead of the embedded SQLite file.
pub const LLMKP_STATE_URL: &str = "LLMKP_STATE_URL";
/// Prefix of every Redis key, so several deployments can share one Redis.
pub const LLMKP_STATE_PREFIX: &str = "LLMKP_STATE_PREFIX";
/// Seconds a shared concurrency lease lives unless its instance extends it (a crashed
/// instance's slots free themselves after this long).
pub const LLMKP_STATE_LEASE_TTL: &str = "LLMKP_STATE_LEASE_TTL";
/// Log level: error, warn, info, debug, trace.
pub const LOG_LEVEL: &str = "LOG_LEVEL";
/// Log format on stderr: text or json.
pub const LOG_FORMAT: &str = "LOG_FORMAT";

/// Fixed names, in the order `.env.example` documents them.
pub const FIXED: &[&str] = &[
    LLMKP_HOME,
    LLMKP_HOST,
    LLMKP_PORT,
    PORT,
    PROXY_API_KEY,
    PROXY_API_KEYS,
    REQUIRE_PROXY_KEY,
    HEALTH_PUBLIC,
    METRICS_PUBLIC,
    CORS_ALLOW_ORIGINS,
    MAX_REQUEST_BODY_BYTES,
    EXPOSE_ROUTING_HEADERS,
    SSE_KEEPALIVE_INTERVAL,
    SHUTDOWN_GRACE_SECONDS,
    MAX_CONNECTIONS,
    REQUEST_HEADER_TIMEOUT,
    REQUEST_BODY_IDLE_TIMEOUT,
    REQUEST_BODY_TIMEOUT,
    HTTPS_PROXY,
    HTTP_PROXY,
    NO_PROXY,
    GLOBAL_TIMEOUT,
    STREAM_COMMIT_TIMEOUT,
    TIMEOUT_CONNECT,
    TIMEOUT_READ_STREAMING,
    TIMEOUT_READ_NON_STREAMING,
    TIMEOUT_IDLE_NON_STREAMING,
    MAX_UPSTREAM_EVENT_BYTES,
    MAX_UPSTREAM_BODY_BYTES,
    UPSTREAM_STREAM_FOR_NON_STREAM,
    MAX_ATTEMPTS_PER_CREDENTIAL,
    TRANSIENT_RETRY_DELAY,
    TRANSIENT_RETRY_JITTER,
    SMALL_COOLDOWN_RETRY_THRESHOLD,
    MODELS_CACHE_TTL,
    COOLDOWN_BACKOFF_LADDER,
    COOLDOWN_AUTH_LADDER,
    MAX_COOLDOWN_SECONDS,
    EXHAUSTION_COOLDOWN_THRESHOLD,
    ROTATION_TOLERANCE,
    SESSION_TTL,
    STICKY_WAIT_SECONDS,
    MODEL_FALLBACK_GROUPS,
    MODEL_ALIASES,
    OVERRIDE_TEMPERATURE_ZERO,
    COUNT_TOKENS_MODE,
    QWEN_CODE_DUMMY_TOOL,
    SKIP_OAUTH_INIT_CHECK,
    GEMINI_CLI_PROJECT_ID,
    ANTIGRAVITY_PROJECT_ID,
    GOOGLE_CLOUD_PROJECT,
    SIGNATURE_CACHE_TTL,
    GEMINI_CLI_SIGNATURE_CACHE_TTL,
    RESPONSES_STORE,
    RESPONSES_STORE_TTL,
    RESPONSES_STORE_MAX,
    STATE_FLUSH_INTERVAL_MS,
    LLMKP_STATE_URL,
    LLMKP_STATE_PREFIX,
    LLMKP_STATE_LEASE_TTL,
    LOG_LEVEL,
    LOG_FORMAT,
    ENABLE_REQUEST_LOGGING,
    REQUEST_LOG_MAX_AGE_HOURS,
    REQUEST_LOG_MAX_MB,
];

/// Suffix of API-key variables: `<P>_API_KEY`, `<P>_API_KEY_<suffix>`.
pub const API_KEY_MARKER: &str = "_API_KEY";
/// Suffix of base-URL variables: `<NAME>_API_BASE`.
pub const API_BASE_SUFFIX: &str = "_API_BASE";
/// Suffix of a custom provider's protocol variable: `<NAME>_API_FORMAT`.
pub const API_FORMAT_SUFFIX: &str = "_API_FORMAT";
/// Suffix of the models an OpenAI-compatible provider serves over the Responses API:
/// `<NAME>_RESPONSES_MODELS`.
pub const RESPONSES_MODELS_SUFFIX: &str = "_RESPONSES_MODELS";

/// Pattern names, as `.env.example` writes them.
pub const PATTERNS: &[&str] = &[
    "<PROVIDER>_API_KEY",
    "<PROVIDER>_API_KEY_<N>",
    "<NAME>_API_BASE",
    "<NAME>_API_FORMAT",
    "<NAME>_RESPONSES_MODELS",
    "ROTATION_MODE_<P>",
    "ROTATION_TOLERANCE_<P>",
    "SESSION_AFFINITY_<P>",
    "MAX_CONCURRENT_REQUESTS_PER_KEY_<P>",
    "OPTIMAL_CONCURRENT_REQUESTS_PER_KEY_<P>",
    "CONCURRENCY_MULTIPLIER_<P>_PRIORITY_<N>",
    "SEQUENTIAL_FALLBACK_MULTIPLIER_<P>",
    "CREDENTIAL_PRIORITY_<P>",
    "QUOTA_GROUPS_<P>_<GROUP>",
    "FAIR_CYCLE_<P>",
    "FAIR_CYCLE_TRACKING_MODE_<P>",
    "FAIR_CYCLE_CROSS_TIER_<P>",
    "FAIR_CYCLE_DURATION_<P>",
    "FAIR_CYCLE_RESET_COOLDOWN_THRESHOLD_<P>",
    "EXHAUSTION_COOLDOWN_THRESHOLD_<P>",
    "CUSTOM_CAP_<P>_T<tiers>_<MODEL_OR_GROUP>",
    "CUSTOM_CAP_COOLDOWN_<P>_T<tiers>_<MODEL_OR_GROUP>",
    "IGNORE_MODELS_<P>",
    "WHITELIST_MODELS_<P>",
];
