pub mod anthropic_mock;
pub mod cli;
pub mod code_assist_mock;
pub mod gateway;
pub mod gemini_mock;
pub mod oauth_mock;
pub mod openai_mock;
pub mod scripted_upstream;
