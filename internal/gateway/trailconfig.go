package gateway

import (
	"github.com/rack-gateway/rack-gateway/internal/anchor"
	"github.com/rack-gateway/rack-gateway/internal/audit/trail"
	"github.com/rack-gateway/rack-gateway/internal/config"
)

// TrailConfig maps the audit section of the configuration onto what
// trail.Open takes, so that the trail knows nothing of the config package.
func TrailConfig(a config.Audit) trail.Config {
	return trail.Config{
		Origin:         a.Origin,
		SigningKeyFile: a.SigningKeyFile, SigningKey: a.SigningKey,
		PublicKeyFile: a.PublicKeyFile,
		HMACKeyFile:   a.HMACKeyFile, HMACKey: a.HMACKey,
		AnchorDir: a.AnchorDir,
		S3: anchor.S3Config{Endpoint: a.S3.Endpoint, Region: a.S3.Region, Bucket: a.S3.Bucket,
			Prefix: a.S3.Prefix, AccessKeyID: a.S3.AccessKeyID, SecretAccessKey: a.S3.SecretAccessKey,
			PathStyle: a.S3.PathStyle, RetentionDays: a.S3.RetentionDays},
	}
}
