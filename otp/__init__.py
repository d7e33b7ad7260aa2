"""agent-otp: Erlang/OTP for AI agents, in Python."""
