package approval

import "context"

// Sweep stores the expired state of requests whose time ran out and
// notifies about each; the gateway runs it periodically. It returns how
// many expired.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	ds, err := s.st.ExpireDeployRequests(ctx)
	if err != nil {
		return 0, s.unavailable("expire requests", err)
	}
	for i := range ds {
		s.audit.Record(s.event(Actor{}, "deploy.expired", "", &ds[i], nil))
		s.tell(ctx, EventExpired, &ds[i], "")
	}
	return len(ds), nil
}
