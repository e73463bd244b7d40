// Package notify tells people about what needs them — a deploy waiting for
// their approval and what became of it, a colleague locked out of their
// second factor, a removed factor, a changed role — in Slack (an incoming
// webhook or a bot), by email (SMTP), or with a signed JSON POST to any
// endpoint (webhook).
//
// # Design
//
// Delivery is durable and at least once. Publisher.Publish turns an Event
// into one job per channel whose event patterns match it, in the gateway's
// database (store.Jobs); when Publish returns, the notification survives
// a crash or a restart. A Worker on every replica claims due jobs with a
// lease (store.Jobs.ClaimJobs: one worker at a time per job, even on one
// PostgreSQL shared by replicas), sends each through its channel, and then
// completes it, retries it later — exponential backoff with jitter, or the
// receiver's Retry-After — or, after the last attempt, gives it up. A
// worker that dies mid-delivery loses its lease and another takes the job
// over, so a receiver may (rarely) see a delivery twice: every attempt of
// one delivery carries the same id (webhook header Rack-Gateway-Delivery,
// email Message-ID) for it to drop duplicates.
//
// Every attempt is audited as "notify.deliver": decision allow (delivered)
// or deny (failed: reason notify_failed, to be retried, or notify_gave_up),
// with the channel, event kind, job, attempt, the receiver's HTTP status or
// SMTP reply code and a short error.
//
// # Secrets
//
// A job's payload is the event and the channel's name, never a setting of
// the channel: Slack webhook URLs (whoever has one can post), bot tokens,
// SMTP passwords and signing secrets stay in the configuration and are
// read when a job is delivered. They never appear in logs, audit details
// or stored errors: HTTP client errors are stripped of their URL and every
// error is scrubbed of the channel's secrets (redactor). SMTP credentials
// are only sent over STARTTLS (or to a loopback server), and HTTP
// deliveries never follow redirects.
//
// # Escaping
//
// Events carry text from outside (commit messages, branch names, people's
// names). Each channel escapes it for where it goes: Slack text has &, <
// and > escaped (no @channel, no links smuggled in), email's HTML part is
// rendered by html/template, its Subject is RFC 2047-encoded, and
// control and bidirectional formatting characters are removed from every
// event when it is published. Buttons only link to the gateway's own page:
// approving always happens in the gateway, with a second factor.
//
// # Webhook signatures
//
// A webhook delivery is a POST of the Event as JSON with the headers
//
//	Rack-Gateway-Event: approval.requested
//	Rack-Gateway-Delivery: 5f0c…  (32 hex digits, the same in every attempt)
//	Rack-Gateway-Signature: t=1767225600,v1=9b1e…
//
// where v1 is the hex HMAC-SHA256, keyed with the channel's secret, of the
// timestamp t (Unix seconds), a dot and the raw body: "<t>.<body>". A
// receiver recomputes it over the body exactly as received, compares in
// constant time, refuses a t more than five minutes from its clock, and
// drops delivery ids it has seen. In Go:
//
//	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
//	if err != nil || notify.VerifyWebhook(secret, r.Header.Get("Rack-Gateway-Signature"), body,
//		time.Now(), 5*time.Minute) != nil {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
//
// Elsewhere, e.g. in Python:
//
//	import hashlib, hmac, time
//
//	def verify(secret: bytes, header: str, body: bytes, tolerance=300) -> bool:
//	    fields = [p.split("=", 1) for p in header.split(",") if "=" in p]
//	    ts = [v for k, v in fields if k == "t"]
//	    sigs = [v for k, v in fields if k == "v1"]
//	    if len(ts) != 1 or not ts[0].isdigit() or abs(time.time() - int(ts[0])) > tolerance:
//	        return False
//	    want = hmac.new(secret, ts[0].encode() + b"." + body, hashlib.sha256).hexdigest()
//	    return any(hmac.compare_digest(want, s) for s in sigs)
package notify
