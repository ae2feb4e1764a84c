-- The console's 审计日志 filters by actor, action and time, newest first.
CREATE INDEX audit_actor ON audit_log (actor, seq);
CREATE INDEX audit_action ON audit_log (action, seq);
CREATE INDEX audit_at ON audit_log (at);
