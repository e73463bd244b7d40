-- A TOTP time step is usable once per person, not once per authenticator
-- app: every TOTP method of a user carries the user's last accepted step.
UPDATE mfa_methods SET last_step = (
	SELECT MAX(m.last_step) FROM mfa_methods m WHERE m.user_id = mfa_methods.user_id AND m.kind = 'totp'
) WHERE kind = 'totp';
