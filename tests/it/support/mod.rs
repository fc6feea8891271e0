pub mod gateway;
pub mod openai_mock;
