package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/mfa/seal"
)

// MFAKeygen is `rack-gateway mfa-keygen`: a new key for
// mfa.encryption_keys.
func MFAKeygen(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "mfa-keygen", "mfa-keygen\n\nPrints a new key for mfa.encryption_keys (RGW_MFA_ENCRYPTION_KEYS): ID:BASE64.\n"+
		"To rotate, put the new key first in the list (it seals from then on), keep the old ones after it until\n"+
		"`rack-gateway mfa-reseal` has re-sealed every secret, then drop them.")
	if err := fs.ParseNoArgs(args); err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, config.NewMFAKey(time.Now()))
	return nil
}

// MFAReseal is `rack-gateway mfa-reseal`: re-seal every TOTP secret with
// the first (primary) key, so that older keys can be retired.
func MFAReseal(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "mfa-reseal", "mfa-reseal [--config FILE]")
	db := addDBFlags(fs, e)
	if err := fs.ParseNoArgs(args); err != nil {
		return err
	}
	cfg, err := db.load(e)
	if err != nil {
		return err
	}
	if cfg.MFA.EncryptionKeys == "" {
		return errors.New("mfa.encryption_keys (RGW_MFA_ENCRYPTION_KEYS) is not set")
	}
	keys, err := seal.ParseKeyring(cfg.MFA.EncryptionKeys)
	if err != nil {
		return err
	}
	st, err := openDSN(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := mfa.Reseal(ctx, st, keys)
	if err != nil {
		return fmt.Errorf("re-sealed %d secrets, then: %w", n, err)
	}
	fmt.Fprintf(e.Stdout, "re-sealed %d TOTP secrets with key %s\n", n, keys.PrimaryID())
	return nil
}
