package authn

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Result is the outcome of authenticating a request.
type Result struct {
	Principal *authz.Principal // nil unless authenticated
	Reason    authz.Reason     // why not, when Principal is nil
	// Holder names whose credential was refused when it is known but no
	// longer good (revoked, expired, or its user disabled), so that the
	// audit record names the person. It is never authorized. Nil for
	// unknown or malformed credentials.
	Holder *authz.Principal
}

// Store is what authentication reads and records: users and their rack
// roles, API tokens and login sessions, and whether a person has enrolled
// a second factor.
type Store interface {
	store.Users
	store.RoleBindings
	store.Tokens
	store.Sessions
	ListMFAMethods(ctx context.Context, userID int64) ([]store.MFAMethod, error)
}

// Authenticator resolves tokens to principals with a short-lived cache so the
// hot path usually costs one map lookup. Revocations through this process
// invalidate the cache at once.
type Authenticator struct {
	store Store
	ttl   time.Duration
	now   func() time.Time
	log   *slog.Logger

	mu    sync.RWMutex
	cache map[[32]byte]cacheEntry // known credentials, good or refused
	// unknown caches credentials the store does not know, apart from the
	// others and bounded: a flood of random tokens fills and churns this
	// map only, never evicting the entries of real credentials.
	unknown map[[32]byte]time.Time // → until
	// gen counts Invalidate calls: a load that began before one must not
	// fill the cache with what it read, which may be older than the change
	// that asked for the invalidation.
	gen uint64

	hooksMu      sync.Mutex
	onInvalidate []func()

	usedMu sync.Mutex
	used   map[int64]time.Time
	seen   map[int64]time.Time // session last-seen times seen by this process
	dirty  map[int64]time.Time // of which not yet flushed

	policy SessionPolicy
}

type cacheEntry struct {
	principal *authz.Principal // nil: a known-bad token (negative cache)
	reason    authz.Reason
	holder    *authz.Principal // known-bad: whose it is (Result.Holder)
	expiresAt time.Time        // of the token itself; zero = never
	until     time.Time        // of the cache entry
	lastSeen  time.Time        // sessions: as stored when loaded
}

// New returns an authenticator. ttl 0 disables caching.
func New(s Store, ttl time.Duration, log *slog.Logger) *Authenticator {
	if log == nil {
		log = slog.Default()
	}
	return &Authenticator{store: s, ttl: ttl, now: time.Now, log: log,
		cache: map[[32]byte]cacheEntry{}, unknown: map[[32]byte]time.Time{}, used: map[int64]time.Time{}, seen: map[int64]time.Time{}, dirty: map[int64]time.Time{},
		policy: DefaultSessionPolicy()}
}

// ErrStoreUnavailable means the credential could not be checked; callers must
// fail closed.
var ErrStoreUnavailable = errors.New("credential store unavailable")

// Authenticate checks an Authorization header value.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string) (Result, error) {
	cred, err := Credential(authorization)
	if err != nil {
		if errors.Is(err, ErrNoCredentials) {
			return Result{Reason: authz.ReasonUnauthenticated}, nil
		}
		return Result{Reason: authz.ReasonInvalidCredential}, nil
	}
	return a.AuthenticateToken(ctx, cred)
}

// AuthenticateToken checks a raw token.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (Result, error) {
	return a.authenticate(ctx, token, false)
}

// Recheck is Authenticate from the store, never from the cache (which it
// refreshes): for credentials behind long-lived streams, whose revocation
// on another replica must be seen within one check.
func (a *Authenticator) Recheck(ctx context.Context, authorization string) (Result, error) {
	cred, err := Credential(authorization)
	if err != nil {
		if errors.Is(err, ErrNoCredentials) {
			return Result{Reason: authz.ReasonUnauthenticated}, nil
		}
		return Result{Reason: authz.ReasonInvalidCredential}, nil
	}
	return a.authenticate(ctx, cred, true)
}

// maxUnknown bounds the cache of unknown credentials.
const maxUnknown = 10_000

func (a *Authenticator) authenticate(ctx context.Context, token string, fresh bool) (Result, error) {
	hash := HashToken(token)
	var key [32]byte
	copy(key[:], hash)
	now := a.now()

	a.mu.RLock()
	e, ok := a.cache[key]
	unknownUntil, isUnknown := a.unknown[key]
	gen := a.gen
	a.mu.RUnlock()
	if !fresh && isUnknown && !now.After(unknownUntil) {
		return Result{Reason: authz.ReasonInvalidCredential}, nil
	}
	if fresh || !ok || now.After(e.until) {
		var err error
		e, err = a.load(ctx, hash, now, token)
		if err != nil {
			return Result{Reason: authz.ReasonInvalidCredential}, err
		}
		if a.ttl > 0 {
			a.mu.Lock()
			switch {
			case a.gen != gen:
				// Invalidated while loading: use the answer, do not keep it.
			case e.principal == nil && e.holder == nil: // unknown to the store
				delete(a.cache, key)
				if len(a.unknown) >= maxUnknown {
					for k := range a.unknown { // evict arbitrary entries (map order)
						delete(a.unknown, k)
						if len(a.unknown) < maxUnknown*9/10 {
							break
						}
					}
				}
				a.unknown[key] = e.until
			default:
				delete(a.unknown, key)
				a.cache[key] = e
			}
			a.mu.Unlock()
		}
	}
	if e.principal == nil {
		return Result{Reason: e.reason, Holder: e.holder}, nil
	}
	if e.principal.SessionID != 0 {
		return a.checkSession(e, now), nil
	}
	if !e.expiresAt.IsZero() && !now.Before(e.expiresAt) {
		return Result{Reason: authz.ReasonTokenExpired, Holder: e.principal}, nil
	}
	a.markUsed(e.principal.TokenID, now)
	return Result{Principal: e.principal}, nil
}

func (a *Authenticator) load(ctx context.Context, hash []byte, now time.Time, token string) (cacheEntry, error) {
	if strings.HasPrefix(token, SessionPrefix) {
		return a.loadSession(ctx, hash, now)
	}
	e := cacheEntry{until: now.Add(a.ttl)}
	t, err := a.store.GetTokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		e.reason = authz.ReasonInvalidCredential
		return e, nil
	}
	if err != nil {
		return e, errors.Join(ErrStoreUnavailable, err)
	}
	// The lookup was by hash; compare again in constant time so a lenient
	// index (e.g. collation) can never match a different token.
	if subtle.ConstantTimeCompare(t.Hash, hash) != 1 {
		e.reason = authz.ReasonInvalidCredential
		return e, nil
	}
	var p *authz.Principal
	if !t.RevokedAt.IsZero() {
		e.reason, e.holder = authz.ReasonTokenRevoked, a.holder(ctx, t.UserID)
	} else {
		p, e.holder, e.reason, err = a.userPrincipal(ctx, t.UserID)
	}
	if e.holder != nil {
		e.holder.Kind, e.holder.TokenID, e.holder.TokenName = authz.KindToken, t.ID, t.Name
	}
	if err != nil || p == nil {
		return e, err
	}
	scope, err := authz.ParseSet(t.Permissions)
	if len(t.Permissions) == 1 && t.Permissions[0] == FollowRole {
		scope, err = authz.Universe(), nil
	}
	if err != nil {
		// A permission removed from the code since the token was made: keep
		// the known ones, never widen.
		var known []authz.Permission
		for _, p := range t.Permissions {
			if authz.Permission(p).Valid() {
				known = append(known, authz.Permission(p))
			}
		}
		scope = authz.NewSet(known...)
	}
	p.Kind, p.TokenID, p.TokenName, p.TokenPerms = authz.KindToken, t.ID, t.Name, scope
	p.Assurance = authz.Assurance{Credential: authz.CredentialAPIToken}
	e.principal, e.expiresAt = p, t.ExpiresAt
	return e, nil
}

// userPrincipal loads a user (the token's owner, or the session's person)
// with their rack role bindings. A missing or disabled user is a nil
// principal with the reason (and, when disabled, the user as holder, for
// the audit record); a store failure is ErrStoreUnavailable.
func (a *Authenticator) userPrincipal(ctx context.Context, userID int64) (p, holder *authz.Principal, reason authz.Reason, err error) {
	u, err := a.store.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, authz.ReasonInvalidCredential, nil
	}
	if err != nil {
		return nil, nil, authz.ReasonInvalidCredential, errors.Join(ErrStoreUnavailable, err)
	}
	if u.Disabled {
		return nil, &authz.Principal{Kind: authz.KindUser, UserID: u.ID, Email: u.Email, Role: u.Role}, authz.ReasonUserDisabled, nil
	}
	bindings, err := a.store.ListRoleBindings(ctx, u.ID)
	if err != nil {
		return nil, nil, authz.ReasonInvalidCredential, errors.Join(ErrStoreUnavailable, err)
	}
	p = &authz.Principal{Kind: authz.KindUser, UserID: u.ID, Email: u.Email, Role: u.Role}
	if len(bindings) > 0 {
		p.RackRole = make(map[string]string, len(bindings))
		for _, b := range bindings {
			p.RackRole[b.Rack] = b.Role
		}
	}
	return p, nil, "", nil
}

// holder names the owner of a refused credential for the audit record. It
// is best effort: the refusal stands whatever the store answers.
func (a *Authenticator) holder(ctx context.Context, userID int64) *authz.Principal {
	h := &authz.Principal{Kind: authz.KindUser, UserID: userID}
	if u, err := a.store.GetUser(ctx, userID); err == nil {
		h.Email, h.Role = u.Email, u.Role
	}
	return h
}

// Invalidate drops every cached entry; call it after any change to users,
// role bindings or tokens made through this process. The functions given
// to OnInvalidate run after it (e.g. the proxy rechecking its open
// streams at once).
func (a *Authenticator) Invalidate() {
	a.mu.Lock()
	clear(a.cache)
	clear(a.unknown)
	a.gen++
	a.mu.Unlock()
	a.hooksMu.Lock()
	hooks := append([]func(){}, a.onInvalidate...)
	a.hooksMu.Unlock()
	for _, f := range hooks {
		f()
	}
}

// Known reports whether the credential in an Authorization header is in
// the cache as good, without asking the store: for letting known callers
// through while their address is rate limited.
func (a *Authenticator) Known(authorization string) bool {
	cred, err := Credential(authorization)
	if err != nil {
		return false
	}
	var key [32]byte
	copy(key[:], HashToken(cred))
	a.mu.RLock()
	e, ok := a.cache[key]
	a.mu.RUnlock()
	return ok && e.principal != nil && !a.now().After(e.until)
}

// UnknownCached is how many unknown credentials the cache holds.
func (a *Authenticator) UnknownCached() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.unknown)
}

// OnInvalidate registers f to run after every Invalidate; f must not block.
func (a *Authenticator) OnInvalidate(f func()) {
	a.hooksMu.Lock()
	a.onInvalidate = append(a.onInvalidate, f)
	a.hooksMu.Unlock()
}

func (a *Authenticator) markUsed(id int64, at time.Time) {
	a.usedMu.Lock()
	a.used[id] = at
	a.usedMu.Unlock()
}

// FlushLastUsed writes recorded last-used times in one batch.
func (a *Authenticator) FlushLastUsed(ctx context.Context) error {
	a.usedMu.Lock()
	if len(a.used) == 0 && len(a.dirty) == 0 {
		a.usedMu.Unlock()
		return nil
	}
	batch, seen := a.used, a.dirty
	a.used, a.dirty = map[int64]time.Time{}, map[int64]time.Time{}
	a.usedMu.Unlock()
	return errors.Join(a.store.TouchTokens(ctx, batch), a.store.TouchSessions(ctx, seen))
}

// RunLastUsedFlusher flushes last-used times every interval until ctx ends,
// then once more.
func (a *Authenticator) RunLastUsedFlusher(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := a.FlushLastUsed(fctx); err != nil {
				a.log.Warn("flush token last-used", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := a.FlushLastUsed(ctx); err != nil {
				a.log.Warn("flush token last-used", "err", err)
			}
		}
	}
}
