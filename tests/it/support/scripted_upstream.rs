//! A scripted upstream for edge cases the OpenAI mock does not play: each requested model picks
//! one fixed, deliberately odd answer (empty answers, duplicate finish reasons, stalled error
//! bodies, absurd retry hints, redirects).

#![allow(dead_code)]

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

/// Starts the upstream on loopback; returns its base URL (`http://127.0.0.1:P/v1`).
pub async fn scripted_upstream() -> String {
    async fn handle(body: Bytes) -> Response {
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let model = v["model"].as_str().unwrap_or("").to_string();
        let sse = |frames: Vec<String>| {
            let mut r = Response::new(Body::from(frames.concat()));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            r
        };
        let data = |v: Value| format!("data: {v}\n\n");
        match model.as_str() {
            // role chunk, then [DONE]: an empty answer
            "empty" => sse(vec![
                data(
                    json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}),
                ),
                "data: [DONE]\n\n".into(),
            ]),
            // text, then [DONE] without a finish_reason
            "nofinish-done" => sse(vec![
                data(
                    json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}),
                ),
                "data: [DONE]\n\n".into(),
            ]),
            // a tool call, then [DONE] without a finish_reason
            "tool-nofinish" => sse(vec![
                data(
                    json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":null}]}),
                ),
                "data: [DONE]\n\n".into(),
            ]),
            // finish_reason twice (seen from some OpenAI-compatible servers)
            "double-finish" => sse(vec![
                data(
                    json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}),
                ),
                data(
                    json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}),
                ),
                "data: [DONE]\n\n".into(),
            ]),
            // 500 head at once, body never completes
            "stall-error-body" => {
                let body = futures::stream::unfold(0, |n| async move {
                    if n == 0 {
                        return Some((Ok::<_, std::io::Error>(Bytes::from_static(b"{\"error\":")), 1));
                    }
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    None
                });
                let mut r = Response::new(Body::from_stream(body));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r
            }
            // a 429 whose Retry-After is absurdly large
            "huge-retry-after" => {
                let mut r = Response::new(Body::from(r#"{"error":{"message":"slow down","type":"requests"}}"#));
                *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                r.headers_mut().insert("retry-after", HeaderValue::from_static("1e20"));
                r
            }
            // a 400 whose message quotes text (upstreams echo invalid values)
            "echo-400" => {
                let mut r = Response::new(Body::from(
                    r#"{"error":{"message":"invalid stop value 'try again in 99999999999999999999s'","type":"invalid_request_error"}}"#,
                ));
                *r.status_mut() = StatusCode::BAD_REQUEST;
                r
            }
            // head and some content at once, then the connection breaks after 1.5 s
            "late-reset" => {
                let body = futures::stream::unfold(0, |n| async move {
                    match n {
                        0 => Some((
                            Ok::<_, std::io::Error>(Bytes::from_static(
                                b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
                            )),
                            1,
                        )),
                        1 => {
                            tokio::time::sleep(Duration::from_millis(1500)).await;
                            Some((Err(std::io::Error::other("reset")), 2))
                        }
                        _ => None,
                    }
                });
                let mut r = Response::new(Body::from_stream(body));
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
                r
            }
            // one `data:` line that never ends (64 KiB pieces until the reader goes away)
            "huge-line" | "content-then-huge-line" => {
                let content = model == "content-then-huge-line";
                let body = futures::stream::unfold(0u64, move |n| async move {
                    let piece: Bytes = match n {
                        0 if content => Bytes::from_static(
                            b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {\"x\":\"",
                        ),
                        0 => Bytes::from_static(b"data: {\"x\":\""),
                        n if n > 16_384 => return None,
                        _ => Bytes::from(vec![b'x'; 64 * 1024]),
                    };
                    Some((Ok::<_, std::io::Error>(piece), n + 1))
                });
                let mut r = Response::new(Body::from_stream(body));
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
                r
            }
            // a non-stream answer of 3 MiB (`-chunked`: without Content-Length)
            "big-body" | "big-body-chunked" => {
                let filler = "y".repeat(3 << 20);
                let completion = json!({"id":"c","object":"chat.completion","created":1,"model":"m",
                    "choices":[{"index":0,"message":{"role":"assistant","content":filler},"finish_reason":"stop"}]});
                let bytes = Bytes::from(completion.to_string());
                let mut r = if model == "big-body" {
                    Response::new(Body::from(bytes))
                } else {
                    Response::new(Body::from_stream(futures::stream::iter(
                        bytes
                            .chunks(64 * 1024)
                            .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
                            .collect::<Vec<_>>(),
                    )))
                };
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                r
            }
            // status 200, but the body is an error object (stream or not)
            "error-200" => {
                let mut r = Response::new(Body::from(
                    r#"{"error":{"message":"Upstream says: model overloaded in region mock-7","type":"server_error","code":null}}"#,
                ));
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                r
            }
            // some content at once, then silence (a stream that outlives a shutdown's grace)
            "content-then-stall" => {
                let body = futures::stream::unfold(0, |n| async move {
                    if n == 0 {
                        let chunk = json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
                            "choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}]});
                        return Some((Ok::<_, std::io::Error>(Bytes::from(format!("data: {chunk}\n\n"))), 1));
                    }
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    None
                });
                let mut r = Response::new(Body::from_stream(body));
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
                r
            }
            // the role chunk at once, then silence
            "stall-after-role" => {
                let body = futures::stream::unfold(0, |n| async move {
                    if n == 0 {
                        let chunk = json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
                            "choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]});
                        return Some((Ok::<_, std::io::Error>(Bytes::from(format!("data: {chunk}\n\n"))), 1));
                    }
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    None
                });
                let mut r = Response::new(Body::from_stream(body));
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
                r
            }
            // http -> https style redirect
            _ => {
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
                r.headers_mut()
                    .insert(header::LOCATION, HeaderValue::from_static("https://example.invalid/v1/chat/completions"));
                r
            }
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new().fallback(handle)).await;
    });
    format!("http://{addr}/v1")
}
