//! `llmkp chat`: one request from the shell, through the engine in-process (same rotation,
//! cooldowns and usage accounting as `serve`) or through a running server (`--url`). The answer
//! streams to stdout as it arrives; reasoning goes to stderr, so stdout is exactly the answer.

use std::io::{IsTerminal, Read, Write};

use futures::StreamExt;
use serde_json::{Map, Value, json};

use super::{CliError, Context};
use crate::engine::session::session_key;
use crate::engine::{ClientRequest, Engine, EngineConfig, EngineError, Reply, RequestContext};
use crate::formats::openai::family::ChatFamily;
use crate::formats::sse::{SseDecoder, SseEvent};

#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// Model as provider/model (or an alias or fallback group)
    #[arg(short, long, value_name = "MODEL")]
    pub model: String,

    /// The prompt; `-` (or nothing, with stdin piped) reads it from stdin
    #[arg(value_name = "PROMPT")]
    pub prompt: Option<String>,

    /// A system prompt
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,

    /// Sampling temperature
    #[arg(long, value_name = "X")]
    pub temperature: Option<f64>,

    /// Upper bound of generated tokens
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u64>,

    /// Reasoning effort for models that think (low, medium, high, …)
    #[arg(long, value_name = "LEVEL")]
    pub reasoning: Option<String>,

    /// Wait for the whole answer instead of streaming it
    #[arg(long)]
    pub no_stream: bool,

    /// Print the full response object (implies --no-stream)
    #[arg(long)]
    pub json: bool,

    /// Go through a running llmkp server (e.g. http://127.0.0.1:8000) instead of in-process;
    /// the proxy key comes from PROXY_API_KEY
    #[arg(long, visible_alias = "server", value_name = "URL")]
    pub url: Option<String>,

    /// Print token usage to stderr when done
    #[arg(short, long)]
    pub verbose: bool,
}

pub async fn run(context: &Context, args: &ChatArgs, quiet: bool) -> Result<(), CliError> {
    let prompt = read_prompt(args.prompt.as_deref())?;
    let body = request_body(args, &prompt);
    let stream = !(args.no_stream || args.json);
    let printer = Printer { show_reasoning: !quiet, verbose: args.verbose };
    let answer = async {
        match &args.url {
            Some(url) => via_server(context, url, body, stream, args.json, &printer).await,
            None => in_process(context, body, stream, args.json, &printer).await,
        }
    };
    tokio::select! {
        result = answer => result,
        _ = tokio::signal::ctrl_c() => {
            let _ = std::io::stdout().write_all(b"\n");
            Err(CliError { code: 130, message: "interrupted".to_string() })
        }
    }
}

/// The prompt from the argument, or from stdin for `-` or when stdin is piped.
fn read_prompt(arg: Option<&str>) -> Result<String, CliError> {
    let from_stdin = match arg {
        Some("-") => true,
        Some(text) => return Ok(text.to_string()),
        None if std::io::stdin().is_terminal() => {
            return Err(CliError::usage("no prompt: pass it as an argument, or `-` / a pipe to read stdin"));
        }
        None => true,
    };
    debug_assert!(from_stdin);
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| CliError::usage(format!("cannot read stdin: {e}")))?;
    let text = text.trim_end_matches(['\n', '\r']).to_string();
    if text.trim().is_empty() {
        return Err(CliError::usage("the prompt on stdin is empty"));
    }
    Ok(text)
}

fn request_body(args: &ChatArgs, prompt: &str) -> Map<String, Value> {
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": prompt}));
    let mut body = Map::new();
    body.insert("model".into(), json!(args.model));
    body.insert("messages".into(), Value::Array(messages));
    if let Some(t) = args.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(n) = args.max_tokens {
        body.insert("max_tokens".into(), json!(n));
    }
    if let Some(effort) = &args.reasoning {
        body.insert("reasoning_effort".into(), json!(effort));
    }
    body
}

async fn in_process(
    context: &Context,
    mut body: Map<String, Value>,
    stream: bool,
    json: bool,
    printer: &Printer,
) -> Result<(), CliError> {
    let (mut config, _) = EngineConfig::load(&context.env, Some(&context.home));
    // Usage and cooldowns go to the same state `serve` uses, also while it runs.
    let store = match super::state::open(context, super::state::Writer::OneShot).await {
        Ok(store) => Some(store),
        Err(err) => {
            tracing::warn!("usage will not be recorded: {}", err.message);
            None
        }
    };
    config.store = store.clone();
    let engine = Engine::new(config, Vec::new()).map_err(|e| CliError::usage(e.to_string()))?;
    if stream {
        body.insert("stream".into(), json!(true));
        if printer.verbose {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    let outcome = async {
        let (family, head) = ChatFamily::parse(&body).map_err(|e| CliError::usage(e.message))?;
        let request = ClientRequest::new(Box::new(family), head, body);
        let session = session_key(&http::HeaderMap::new(), request.body(), &request.opening());
        let chat = RequestContext::new(tokio::time::Instant::now(), Some(session));
        let response = engine.respond(request, chat).await.map_err(engine_error)?;
        match response.reply {
            Reply::Complete(body) => printer.complete(&body, json),
            Reply::Stream(frames) => {
                let mut decoder = SseDecoder::new();
                let mut frames = Box::pin(frames);
                let mut out = StreamOutput::default();
                while let Some(frame) = frames.next().await {
                    let frame = frame.map_err(|e| CliError::failed(format!("stream failed: {e}")))?;
                    let mut events = Vec::new();
                    decoder.push(&frame, &mut events);
                    for event in events {
                        printer.event(&event, &mut out)?;
                    }
                }
                printer.finish(&out)
            }
        }
    }
    .await;
    if let Some(store) = &store
        && let Err(err) = store.flush()
    {
        tracing::warn!("usage not recorded: {err}");
    }
    outcome
}

async fn via_server(
    context: &Context,
    url: &str,
    mut body: Map<String, Value>,
    stream: bool,
    json: bool,
    printer: &Printer,
) -> Result<(), CliError> {
    if stream {
        body.insert("stream".into(), json!(true));
        if printer.verbose {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    let endpoint = format!("{}/v1/chat/completions", url.trim_end_matches('/').trim_end_matches("/v1"));
    let mut request = reqwest::Client::new().post(&endpoint).json(&body);
    if let Some(key) = context.env.get_nonempty(crate::config::env_names::PROXY_API_KEY) {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.map_err(|e| CliError::failed(format!("cannot reach {endpoint}: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or(text);
        return Err(CliError::failed(format!("{endpoint} answered {status}: {message}")));
    }
    if !stream {
        let bytes = response.bytes().await.map_err(|e| CliError::failed(format!("reading the answer failed: {e}")))?;
        return printer.complete(&bytes, json);
    }
    let mut decoder = SseDecoder::new();
    let mut out = StreamOutput::default();
    let mut body = response.bytes_stream();
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| CliError::failed(format!("stream failed: {e}")))?;
        let mut events = Vec::new();
        decoder.push(&piece, &mut events);
        for event in events {
            printer.event(&event, &mut out)?;
        }
    }
    printer.finish(&out)
}

fn engine_error(err: EngineError) -> CliError {
    match &err {
        EngineError::InvalidRequest { .. } | EngineError::ModelNotFound { .. } => CliError::usage(err.to_string()),
        _ => CliError::failed(err.to_string()),
    }
}

#[derive(Default)]
struct StreamOutput {
    /// The last character written to stdout, to end the answer with exactly one newline.
    last: Option<char>,
    wrote_reasoning: bool,
    usage: Option<Value>,
    error: Option<String>,
}

struct Printer {
    show_reasoning: bool,
    verbose: bool,
}

impl Printer {
    fn complete(&self, body: &[u8], json: bool) -> Result<(), CliError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| CliError::failed(format!("unreadable answer: {e}")))?;
        if json {
            return super::output::print_json(&value);
        }
        let message = &value["choices"][0]["message"];
        if self.show_reasoning
            && let Some(reasoning) = message["reasoning_content"].as_str().filter(|r| !r.is_empty())
        {
            eprintln!("{reasoning}");
        }
        let content = message["content"].as_str().unwrap_or_default();
        let mut text = content.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        super::output::print(&text)?;
        self.usage_line(value.get("usage"));
        Ok(())
    }

    fn event(&self, event: &SseEvent, out: &mut StreamOutput) -> Result<(), CliError> {
        if event.data.trim() == "[DONE]" {
            return Ok(());
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&event.data) else { return Ok(()) };
        if let Some(error) = chunk.get("error") {
            out.error = Some(error["message"].as_str().unwrap_or("upstream error").to_string());
            return Ok(());
        }
        if chunk.get("usage").is_some_and(Value::is_object) {
            out.usage = chunk.get("usage").cloned();
        }
        let delta = &chunk["choices"][0]["delta"];
        if let Some(reasoning) =
            delta["reasoning_content"].as_str().or(delta["reasoning"].as_str()).filter(|r| !r.is_empty())
            && self.show_reasoning
        {
            eprint!("{reasoning}");
            out.wrote_reasoning = true;
        }
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            if out.wrote_reasoning {
                eprintln!();
                out.wrote_reasoning = false;
            }
            super::output::print(text)?;
            out.last = text.chars().last();
        }
        Ok(())
    }

    fn finish(&self, out: &StreamOutput) -> Result<(), CliError> {
        if out.last.is_some_and(|c| c != '\n') {
            super::output::print("\n")?;
        }
        if let Some(message) = &out.error {
            return Err(CliError::failed(format!("the answer broke off: {message}")));
        }
        self.usage_line(out.usage.as_ref());
        Ok(())
    }

    fn usage_line(&self, usage: Option<&Value>) {
        if let (true, Some(usage)) = (self.verbose, usage) {
            let n = |k: &str| usage[k].as_u64().unwrap_or(0);
            eprintln!("tokens: {} in, {} out", n("prompt_tokens"), n("completion_tokens"));
        }
    }
}
