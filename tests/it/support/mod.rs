pub mod openai_mock;
