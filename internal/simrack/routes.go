package simrack

import "net/http"

// routes returns the rack's route table in the order the real rack registers
// it (pkg/api/routes.go), since with mux the first matching route wins; e.g.
// ".../builds/{id}.tgz" must precede ".../builds/{id}". GET /auth comes first
// because the rack registers it before setupRoutes.
func (r *Rack) routes() []*route {
	const (
		get  = http.MethodGet
		post = http.MethodPost
		put  = http.MethodPut
		del  = http.MethodDelete
		head = http.MethodHead
		opts = http.MethodOptions
		ws   = methodSocket
		anyM = methodAny
	)
	rt := func(method, tmpl, name string, fn handlerFunc) *route {
		return &route{method: method, tmpl: tmpl, name: name, fn: fn}
	}
	auth := rt(get, "/auth", "Auth", func(c *ctx) error { return c.renderOK() })
	auth.noAuthorize = true

	return []*route{
		auth,
		rt(post, "/apps/{name}/cancel", "AppCancel", r.appCancel),
		rt(post, "/apps", "AppCreate", r.appCreate),
		rt(del, "/apps/{name}", "AppDelete", r.appDelete),
		rt(get, "/apps/{app}/diagnose", "AppDiagnose", r.appDiagnose),
		rt(get, "/apps/{name}", "AppGet", r.appGet),
		rt(get, "/apps", "AppList", r.appList),
		rt(ws, "/apps/{name}/logs", "AppLogs", r.appLogs),
		rt(get, "/apps/{app}/manifest/services/{service}", "AppManifestService", r.appManifestService),
		rt(get, "/apps/{name}/metrics", "AppMetrics", r.appMetrics),
		rt(get, "/apps/{app}/metrics-by-service", "MetricsByService", r.metricsByService),
		rt(put, "/apps/{name}", "AppUpdate", r.appUpdate),
		rt(get, "/apps/{app}/budget", "AppBudgetGet", r.appBudgetGet),
		rt(post, "/apps/{app}/budget", "AppBudgetSet", r.appBudgetSet),
		rt(del, "/apps/{app}/budget", "AppBudgetClear", r.appBudgetClear),
		rt(post, "/apps/{app}/budget/reset", "AppBudgetReset", r.appBudgetReset),
		rt(get, "/apps/{app}/budget/shutdown-state", "AppBudgetShutdownStateGet", r.appBudgetShutdownState),
		rt(post, "/apps/{app}/budget/simulate-shutdown", "AppBudgetSimulate", r.appBudgetSimulate),
		rt(post, "/apps/{app}/budget/dismiss-recovery", "AppBudgetDismissRecovery", r.appBudgetDismissRecovery),
		rt(get, "/apps/{app}/cost", "AppCost", r.appCost),
		rt(get, "/apps/{app}/balancers", "BalancerList", r.balancerList),
		rt(post, "/apps/{app}/builds", "BuildCreate", r.buildCreate),
		rt(get, "/apps/{app}/builds/{id}.tgz", "BuildExport", r.buildExport),
		rt(get, "/apps/{app}/builds/{id}", "BuildGet", r.buildGet),
		rt(post, "/apps/{app}/builds/import", "BuildImport", r.buildImport),
		rt(post, "/apps/{app}/builds/{id}/image", "BuildImportImage", r.buildImportImage),
		rt(get, "/apps/{app}/builds", "BuildList", r.buildList),
		rt(ws, "/apps/{app}/builds/{id}/logs", "BuildLogs", r.buildLogs),
		rt(put, "/apps/{app}/builds/{id}", "BuildUpdate", r.buildUpdate),
		rt(get, "/apps/{app}/configs", "AppConfigList", r.appConfigList),
		rt(get, "/apps/{app}/configs/{name}", "AppConfigGet", r.appConfigGet),
		rt(put, "/apps/{app}/configs/{name}", "AppConfigSet", r.appConfigSet),
		rt(get, "/system/capacity", "CapacityGet", r.capacityGet),
		rt(put, "/apps/{app}/ssl/{service}/{port}", "CertificateApply", r.certificateApply),
		rt(post, "/certificates", "CertificateCreate", r.certificateCreate),
		rt(del, "/certificates/{id}", "CertificateDelete", r.certificateDelete),
		rt(post, "/certificates/{id}/renew", "CertificateRenew", r.certificateRenew),
		rt(post, "/certificates/generate", "CertificateGenerate", r.certificateGenerate),
		rt(get, "/certificates", "CertificateList", r.certificateList),
		rt(get, "/letsencrypt/config", "LetsEncryptConfigGet", r.letsEncryptConfigGet),
		rt(put, "/letsencrypt/config", "LetsEncryptConfigApply", r.letsEncryptConfigApply),
		rt(post, "/events", "EventSend", r.eventSend),
		rt(del, "/apps/{app}/processes/{pid}/files", "FilesDelete", r.filesDelete),
		rt(get, "/apps/{app}/processes/{pid}/files", "FilesDownload", r.filesDownload),
		rt(post, "/apps/{app}/processes/{pid}/files", "FilesUpload", r.filesUpload),
		rt(post, "/instances/keyroll", "InstanceKeyroll", r.instanceKeyroll),
		rt(get, "/instances", "InstanceList", r.instanceList),
		rt(ws, "/instances/{id}/shell", "InstanceShell", r.instanceShell),
		rt(del, "/instances/{id}", "InstanceTerminate", r.instanceTerminate),
		rt(del, "/apps/{app}/objects/{key:.*}", "ObjectDelete", r.objectDelete),
		rt(head, "/apps/{app}/objects/{key:.*}", "ObjectExists", r.objectExists),
		rt(get, "/apps/{app}/objects/{key:.*}", "ObjectFetch", r.objectFetch),
		rt(get, "/apps/{app}/objects", "ObjectList", r.objectList),
		rt(post, "/apps/{app}/objects/{key:.*}", "ObjectStore", r.objectStore),
		rt(ws, "/apps/{app}/processes/{pid}/exec", "ProcessExec", r.processExec),
		rt(get, "/apps/{app}/processes/{pid}", "ProcessGet", r.processGet),
		rt(get, "/apps/{app}/processes", "ProcessList", r.processList),
		rt(ws, "/apps/{app}/processes/{pid}/logs", "ProcessLogs", r.processLogs),
		rt(post, "/apps/{app}/services/{service}/processes", "ProcessRun", r.processRun),
		rt(ws, "/apps/{app}/services/{service}/logs", "ServiceLogs", r.serviceLogs),
		rt(del, "/apps/{app}/processes/{pid}", "ProcessStop", r.processStop),
		rt(ws, "/proxy/{host}/{port}", "Proxy", r.proxy),
		rt(post, "/registries", "RegistryAdd", r.registryAdd),
		rt(get, "/registries", "RegistryList", r.registryList),
		rt(anyM, "/v2/{path:.*}", "RegistryProxy", r.registryProxy),
		rt(del, "/registries/{server:.*}", "RegistryRemove", r.registryRemove),
		rt(post, "/apps/{app}/releases", "ReleaseCreate", r.releaseCreate),
		rt(get, "/apps/{app}/releases/{id}", "ReleaseGet", r.releaseGet),
		rt(get, "/apps/{app}/releases", "ReleaseList", r.releaseList),
		rt(post, "/apps/{app}/releases/{id}/promote", "ReleasePromote", r.releasePromote),
		rt(ws, "/apps/{app}/resources/{name}/console", "ResourceConsole", r.resourceConsole),
		rt(get, "/apps/{app}/resources/{name}/data", "ResourceExport", r.resourceExport),
		rt(get, "/apps/{app}/resources/{name}", "ResourceGet", r.resourceGet),
		rt(put, "/apps/{app}/resources/{name}/data", "ResourceImport", r.resourceImport),
		rt(get, "/apps/{app}/resources", "ResourceList", r.resourceList),
		rt(get, "/apps/{app}/services", "ServiceList", r.serviceList),
		rt(get, "/apps/{app}/services/{service}/metrics", "ServiceMetrics", r.serviceMetrics),
		rt(post, "/apps/{app}/services/{name}/restart", "ServiceRestart", r.serviceRestart),
		rt(post, "/apps/{app}/services/{service}/scale-override", "ServiceScaleOverrideSet", r.serviceScaleOverride),
		rt(post, "/apps/{app}/services/{service}/triggers/disable", "ServiceTriggersDisable", r.serviceTriggersDisable),
		rt(post, "/apps/{app}/services/{service}/triggers/enable", "ServiceTriggersEnable", r.serviceTriggersEnable),
		rt(post, "/apps/{app}/services/{service}/triggers/threshold", "ServiceTriggersThresholdSet", r.serviceTriggersThreshold),
		rt(put, "/apps/{app}/services/{name}", "ServiceUpdate", r.serviceUpdate),
		rt(get, "/system", "SystemGet", r.systemGet),
		rt(ws, "/system/logs", "SystemLogs", r.systemLogs),
		rt(get, "/system/metrics", "SystemMetrics", r.systemMetrics),
		rt(put, "/system/jwt/rotate", "SystemJwtSignKeyRotate", r.systemJwtRotate),
		rt(post, "/system/jwt/token", "SystemJwtToken", r.systemJwtToken),
		rt(get, "/system/processes", "SystemProcesses", r.systemProcesses),
		rt(get, "/system/releases", "SystemReleases", r.systemReleases),
		rt(post, "/resources", "SystemResourceCreate", r.systemResourceCreate),
		rt(del, "/resources/{name}", "SystemResourceDelete", r.systemResourceDelete),
		rt(get, "/resources/{name}", "SystemResourceGet", r.systemResourceGet),
		rt(post, "/resources/{name}/links", "SystemResourceLink", r.systemResourceLink),
		rt(get, "/resources", "SystemResourceList", r.systemResourceList),
		rt(opts, "/resources", "SystemResourceTypes", r.systemResourceTypes),
		rt(del, "/resources/{name}/links/{app}", "SystemResourceUnlink", r.systemResourceUnlink),
		rt(put, "/resources/{name}", "SystemResourceUpdate", r.systemResourceUpdate),
		rt(put, "/system", "SystemUpdate", r.systemUpdate),
		rt(post, "/system/karpenter/cleanup", "KarpenterCleanup", r.karpenterCleanup),
		rt(anyM, "/custom/http/proxy/{path:.*}", "ProxyHttpService", r.proxyHTTPService),
	}
}
