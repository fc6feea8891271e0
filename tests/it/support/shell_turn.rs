//! The scripted shell-tool turn every mock plays for `shell…` models: the first answer asks the
//! client's own shell tool (found by name among the request's tools) to run [`SHELL_COMMAND`];
//! the answer to the tool result quotes what came back, so a test sees the whole round trip.

#![allow(dead_code)]

use serde_json::{Value, json};

/// The command the mocks ask a client to run.
pub const SHELL_COMMAND: &str = "echo llmkp-shell-ok";
/// What the command prints, and so what the final answer must quote.
pub const SHELL_OUTPUT: &str = "llmkp-shell-ok";
/// Start of the final answer: `SHELL_ANSWER` + the tool result as the mock received it.
pub const SHELL_ANSWER: &str = "The shell said: ";

/// The shell tools of the real clients, by name, and how each takes a command:
/// Codex's unified exec tool (`exec_command {cmd}`), its older `shell {command: [argv]}` and
/// `shell_command {command}`, and Claude Code's `Bash {command, description}`.
pub fn shell_call<'a>(tool_names: impl IntoIterator<Item = &'a str>) -> Option<(String, Value)> {
    let names: Vec<&str> = tool_names.into_iter().collect();
    let args = |name: &str| match name {
        "exec_command" => Some(json!({"cmd": SHELL_COMMAND})),
        "shell" => Some(json!({"command": ["bash", "-lc", SHELL_COMMAND]})),
        "shell_command" => Some(json!({"command": SHELL_COMMAND})),
        "Bash" => Some(json!({"command": SHELL_COMMAND, "description": "Print a marker"})),
        _ => None,
    };
    ["exec_command", "shell", "shell_command", "Bash"]
        .into_iter()
        .find(|known| names.contains(known))
        .and_then(|name| Some((name.to_owned(), args(name)?)))
}

/// The final answer for a tool result.
pub fn shell_answer(tool_result: &str) -> String {
    format!("{SHELL_ANSWER}{}", tool_result.trim())
}
