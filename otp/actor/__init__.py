"""Actor runtime (layer 2): AgentActor, AgentRef, links, monitors, names, timers. pykka lives here."""
