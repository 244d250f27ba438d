//! Real OpenAI-compatible backends (the mock server process) and their faults.
