"""The gateway face: HTTP proxy for OpenAI, Anthropic and Gemini with virtual keys."""
