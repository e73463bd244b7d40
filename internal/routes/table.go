package routes

import (
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// Shorthands that keep the table readable: one line per route.
const (
	get  = http.MethodGet
	post = http.MethodPost
	put  = http.MethodPut
	del  = http.MethodDelete
	head = http.MethodHead
	opts = http.MethodOptions
)

type option func(*Route)

// ws marks a websocket route.
func ws(r *Route) { r.Websocket = true }

// dangerous marks a non-mutating-by-method route (an interactive websocket)
// that must be audited before forwarding like a mutating one.
func dangerous(r *Route) { r.Mutating = true }

func stream(r *Route) { r.Stream = true }

func foreign(r *Route) { r.Foreign = true }

func public(r *Route) { r.Public = true }

func secretResponse(r *Route) { r.SecretResponse = true }

func audit(params ...string) option { return func(r *Route) { r.AuditParams = params } }

func secret(params ...string) option { return func(r *Route) { r.SecretParams = params } }

func filter(f Filter) option { return func(r *Route) { r.Filter = f } }

func guard(g Guard) option { return func(r *Route) { r.Guard = g } }

func route(method, path, name string, perm authz.Permission, o ...option) Route {
	r := Route{Name: name, Method: method, Path: path, Permission: perm, Mutating: method != get}
	for _, f := range o {
		f(&r)
	}
	return r
}

// Logging options sent as headers on log sockets; safe to audit.
var logParams = audit("filter", "follow", "since", "tail", "prefix")

// Table returns every route of the Convox v3 rack API (pkg/api/routes.go),
// plus /auth and /check, in the rack's order. The result is a copy.
func Table() []Route {
	out := make([]Route, len(table))
	for i, r := range table {
		out[i] = r
		out[i].AuditParams = append([]string(nil), r.AuditParams...)
		out[i].SecretParams = append([]string(nil), r.SecretParams...)
	}
	return out
}

// table is the data behind Table and Default. Keep it in the rack's order
// so it can be diffed.
var table = []Route{
	route(get, "/auth", "Auth", authz.RackRead),
	route(get, "/check", "Check", "", public),

	// apps
	route(get, "/apps", "AppList", authz.AppRead),
	route(post, "/apps", "AppCreate", authz.AppCreate, audit("name", "generation", "timeout")),
	route(get, "/apps/{app}", "AppGet", authz.AppRead),
	route(put, "/apps/{app}", "AppUpdate", authz.AppUpdate, audit("lock"), secret("parameters")),
	route(del, "/apps/{app}", "AppDelete", authz.AppDelete),
	route(post, "/apps/{app}/cancel", "AppCancel", authz.AppCancel),
	route(get, "/apps/{app}/logs", "AppLogs", authz.LogRead, ws, logParams),
	route(get, "/apps/{app}/metrics", "AppMetrics", authz.AppRead),
	route(get, "/apps/{app}/diagnose", "AppDiagnose", authz.AppRead),
	route(get, "/apps/{app}/manifest/services/{service}", "AppManifestService", authz.AppRead),
	route(get, "/apps/{app}/metrics-by-service", "MetricsByService", authz.AppRead),
	route(get, "/apps/{app}/cost", "AppCost", authz.AppRead),
	route(get, "/apps/{app}/budget", "AppBudgetGet", authz.AppRead),
	route(post, "/apps/{app}/budget", "AppBudgetSet", authz.AppBudget),
	route(del, "/apps/{app}/budget", "AppBudgetClear", authz.AppBudget),
	route(post, "/apps/{app}/budget/reset", "AppBudgetReset", authz.AppBudget),
	route(post, "/apps/{app}/budget/simulate-shutdown", "AppBudgetSimulateShutdown", authz.AppBudget),
	route(post, "/apps/{app}/budget/dismiss-recovery", "AppBudgetDismissRecovery", authz.AppBudget),
	route(get, "/apps/{app}/budget/shutdown-state", "AppBudgetShutdownStateGet", authz.AppRead),
	route(get, "/apps/{app}/balancers", "BalancerList", authz.AppRead),

	// builds and objects
	route(get, "/apps/{app}/builds", "BuildList", authz.BuildRead),
	route(post, "/apps/{app}/builds", "BuildCreate", authz.BuildCreate, audit("url", "description", "development", "manifest", "external", "no-cache", "wildcard-domain")),
	route(post, "/apps/{app}/builds/import", "BuildImport", authz.BuildCreate, stream),
	route(get, "/apps/{app}/builds/{id}.tgz", "BuildExport", authz.BuildExport, stream),
	route(get, "/apps/{app}/builds/{id}", "BuildGet", authz.BuildRead),
	route(put, "/apps/{app}/builds/{id}", "BuildUpdate", authz.BuildUpdate, audit("ended", "release", "started", "status")),
	route(post, "/apps/{app}/builds/{id}/image", "BuildImportImage", authz.BuildCreate, audit("image", "src-creds-user"), secret("src-creds-pass")),
	route(get, "/apps/{app}/builds/{id}/logs", "BuildLogs", authz.LogRead, ws),
	route(get, "/apps/{app}/configs", "AppConfigList", authz.ConfigRead),
	route(get, "/apps/{app}/configs/{name}", "AppConfigGet", authz.ConfigRead, secretResponse),
	route(put, "/apps/{app}/configs/{name}", "AppConfigSet", authz.ConfigSet, secret("value")),
	route(get, "/apps/{app}/objects", "ObjectList", authz.ObjectList, audit("prefix")),
	route(post, "/apps/{app}/objects/{key...}", "ObjectStore", authz.ObjectWrite, stream, audit("public")),
	route(get, "/apps/{app}/objects/{key...}", "ObjectFetch", authz.ObjectRead, stream),
	route(head, "/apps/{app}/objects/{key...}", "ObjectExists", authz.ObjectWrite),
	route(del, "/apps/{app}/objects/{key...}", "ObjectDelete", authz.ObjectDelete),

	// processes
	route(get, "/apps/{app}/processes", "ProcessList", authz.ProcessRead, audit("service", "release")),
	route(get, "/apps/{app}/processes/{pid}", "ProcessGet", authz.ProcessRead),
	route(del, "/apps/{app}/processes/{pid}", "ProcessStop", authz.ProcessStop),
	route(get, "/apps/{app}/processes/{pid}/exec", "ProcessExec", authz.ProcessExec, ws, dangerous, audit("command", "entrypoint", "tty", "height", "width", "disable-stdin")),
	route(get, "/apps/{app}/processes/{pid}/logs", "ProcessLogs", authz.LogRead, ws, logParams),
	route(get, "/apps/{app}/processes/{pid}/files", "FilesDownload", authz.FilesRead, stream, audit("file")),
	route(post, "/apps/{app}/processes/{pid}/files", "FilesUpload", authz.FilesWrite, stream, audit("tar-extra")),
	route(del, "/apps/{app}/processes/{pid}/files", "FilesDelete", authz.FilesWrite, audit("files")),
	route(post, "/apps/{app}/services/{service}/processes", "ProcessRun", authz.ProcessRun,
		audit("command", "cpu", "cpu-limit", "gpu", "gpu-vendor", "image", "memory", "memory-limit", "release", "volumes", "use-service-volume", "privileged", "node-labels", "system-critical"),
		secret("environment")),

	// releases
	route(get, "/apps/{app}/releases", "ReleaseList", authz.ReleaseRead, filter(FilterReleaseEnv), audit("limit")),
	route(post, "/apps/{app}/releases", "ReleaseCreate", authz.ReleaseCreate, filter(FilterReleaseEnv), guard(GuardReleaseEnv),
		audit("build", "description", "parent-release"), secret("env")),
	route(get, "/apps/{app}/releases/{id}", "ReleaseGet", authz.ReleaseRead, filter(FilterReleaseEnv)),
	route(post, "/apps/{app}/releases/{id}/promote", "ReleasePromote", authz.ReleasePromote, audit("development", "force", "idle", "min", "max", "timeout")),

	// app resources
	route(get, "/apps/{app}/resources", "ResourceList", authz.ResourceRead, filter(FilterResourceURL)),
	route(get, "/apps/{app}/resources/{name}", "ResourceGet", authz.ResourceRead, filter(FilterResourceURL)),
	route(get, "/apps/{app}/resources/{name}/console", "ResourceConsole", authz.ResourceConsole, ws, dangerous, audit("height", "width")),
	route(get, "/apps/{app}/resources/{name}/data", "ResourceExport", authz.ResourceExport, stream),
	route(put, "/apps/{app}/resources/{name}/data", "ResourceImport", authz.ResourceImport, stream),

	// services
	route(get, "/apps/{app}/services", "ServiceList", authz.ServiceRead),
	route(put, "/apps/{app}/services/{service}", "ServiceUpdate", authz.ServiceScale, audit("count", "cpu", "memory", "gpu", "min", "max")),
	route(post, "/apps/{app}/services/{service}/restart", "ServiceRestart", authz.ServiceRestart),
	route(get, "/apps/{app}/services/{service}/logs", "ServiceLogs", authz.LogRead, ws, logParams),
	route(get, "/apps/{app}/services/{service}/metrics", "ServiceMetrics", authz.ServiceRead),
	route(post, "/apps/{app}/services/{service}/scale-override", "ServiceScaleOverride", authz.ServiceScale, audit("count", "min", "max")),
	route(post, "/apps/{app}/services/{service}/triggers/enable", "ServiceTriggersEnable", authz.ServiceScale),
	route(post, "/apps/{app}/services/{service}/triggers/disable", "ServiceTriggersDisable", authz.ServiceScale),
	route(post, "/apps/{app}/services/{service}/triggers/threshold", "ServiceTriggersThreshold", authz.ServiceScale),
	route(put, "/apps/{app}/ssl/{service}/{port}", "CertificateApply", authz.CertWrite, audit("id")),

	// certificates
	route(get, "/certificates", "CertificateList", authz.CertRead),
	route(post, "/certificates", "CertificateCreate", authz.CertWrite, secret("key")),
	route(post, "/certificates/generate", "CertificateGenerate", authz.CertWrite, audit("domains")),
	route(del, "/certificates/{id}", "CertificateDelete", authz.CertWrite),
	route(post, "/certificates/{id}/renew", "CertificateRenew", authz.CertWrite),
	route(get, "/letsencrypt/config", "LetsEncryptConfigGet", authz.CertRead),
	route(put, "/letsencrypt/config", "LetsEncryptConfigApply", authz.CertWrite),

	route(post, "/events", "EventSend", authz.RackEvents),

	// instances
	route(get, "/instances", "InstanceList", authz.InstanceRead),
	route(post, "/instances/keyroll", "InstanceKeyroll", authz.InstanceKeyroll, secretResponse),
	route(get, "/instances/{id}/shell", "InstanceShell", authz.InstanceShell, ws, dangerous, audit("command", "height", "width"), secret("private-key")),
	route(del, "/instances/{id}", "InstanceTerminate", authz.InstanceTerminate),

	// tunnels and proxies into the cluster
	route(get, "/proxy/{host}/{port}", "Proxy", authz.RackProxy, ws, dangerous),
	route(get, "/custom/http/proxy/{path...}", "ProxyHttpService", authz.RackHTTPProxy, stream, foreign),
	route(head, "/custom/http/proxy/{path...}", "ProxyHttpService", authz.RackHTTPProxy, stream, foreign),
	route(post, "/custom/http/proxy/{path...}", "ProxyHttpService", authz.RackHTTPProxy, stream, foreign),
	route(put, "/custom/http/proxy/{path...}", "ProxyHttpService", authz.RackHTTPProxy, stream, foreign),
	route(http.MethodPatch, "/custom/http/proxy/{path...}", "ProxyHttpService", authz.RackHTTPProxy, stream, foreign),
	route(del, "/custom/http/proxy/{path...}", "ProxyHttpService", authz.RackHTTPProxy, stream, foreign),

	// registries
	route(get, "/registries", "RegistryList", authz.RegistryRead, filter(FilterRegistryPassword)),
	route(post, "/registries", "RegistryAdd", authz.RegistryWrite, audit("server", "username"), secret("password")),
	route(del, "/registries/{server...}", "RegistryRemove", authz.RegistryWrite),
	route(get, "/v2/{path...}", "RegistryProxy", authz.RegistryPull, stream, foreign),
	route(head, "/v2/{path...}", "RegistryProxy", authz.RegistryPull, stream, foreign),
	route(post, "/v2/{path...}", "RegistryProxy", authz.RegistryPush, stream, foreign),
	route(put, "/v2/{path...}", "RegistryProxy", authz.RegistryPush, stream, foreign),
	route(http.MethodPatch, "/v2/{path...}", "RegistryProxy", authz.RegistryPush, stream, foreign),
	route(del, "/v2/{path...}", "RegistryProxy", authz.RegistryPush, stream, foreign),

	// rack-level resources
	route(get, "/resources", "SystemResourceList", authz.ResourceRead, filter(FilterResourceURL)),
	route(post, "/resources", "SystemResourceCreate", authz.ResourceCreate, audit("name", "type"), secret("parameters")),
	route(opts, "/resources", "SystemResourceTypes", authz.ResourceRead),
	route(get, "/resources/{name}", "SystemResourceGet", authz.ResourceRead, filter(FilterResourceURL)),
	route(put, "/resources/{name}", "SystemResourceUpdate", authz.ResourceUpdate, secret("parameters")),
	route(del, "/resources/{name}", "SystemResourceDelete", authz.ResourceDelete),
	route(post, "/resources/{name}/links", "SystemResourceLink", authz.ResourceLink, audit("app"), filter(FilterResourceURL)),
	route(del, "/resources/{name}/links/{app}", "SystemResourceUnlink", authz.ResourceLink, filter(FilterResourceURL)),

	// system
	route(get, "/system", "SystemGet", authz.RackRead),
	route(put, "/system", "SystemUpdate", authz.RackUpdate, audit("count", "force", "type", "version"), secret("parameters")),
	route(get, "/system/capacity", "SystemCapacity", authz.RackRead),
	route(get, "/system/metrics", "SystemMetrics", authz.RackRead),
	route(get, "/system/processes", "SystemProcesses", authz.RackRead, audit("all")),
	route(get, "/system/releases", "SystemReleases", authz.RackRead, filter(FilterReleaseEnv)),
	route(get, "/system/logs", "SystemLogs", authz.LogRead, ws, logParams),
	route(post, "/system/jwt/token", "SystemJwtToken", authz.RackJWTToken, audit("role", "durationInHour"), secretResponse),
	route(put, "/system/jwt/rotate", "SystemJwtSignKeyRotate", authz.RackJWTRotate),
	route(post, "/system/karpenter/cleanup", "KarpenterCleanup", authz.RackUpdate),
}
