package simrack

import "time"

// Wire types. Field names and JSON tags follow convox pkg/structs so that
// the CLI (and anything decoding rack JSON) sees what a real rack sends.

type apiApp struct {
	Generation string            `json:"generation,omitempty"`
	Locked     bool              `json:"locked"`
	Name       string            `json:"name"`
	Release    string            `json:"release"`
	Router     string            `json:"router"`
	Status     string            `json:"status"`
	Budget     *apiBudget        `json:"budget,omitempty"`
	Parameters map[string]string `json:"parameters"`
}

type apiBuild struct {
	Id          string    `json:"id"`
	App         string    `json:"app"`
	Description string    `json:"description"`
	Entrypoint  string    `json:"entrypoint"`
	GitSha      string    `json:"git-sha"`
	Logs        string    `json:"logs"`
	Manifest    string    `json:"manifest"`
	Process     string    `json:"process"`
	Release     string    `json:"release"`
	Reason      string    `json:"reason"`
	Repository  string    `json:"repository"`
	Status      string    `json:"status"`
	Started     time.Time `json:"started"`
	Ended       time.Time `json:"ended"`
}

type apiRelease struct {
	Id          string    `json:"id"`
	App         string    `json:"app"`
	Build       string    `json:"build"`
	Env         string    `json:"env"`
	Manifest    string    `json:"manifest"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
}

type apiProcess struct {
	Id       string    `json:"id"`
	App      string    `json:"app"`
	Command  string    `json:"command"`
	Cpu      float64   `json:"cpu"`
	Gpu      int       `json:"gpu"`
	Host     string    `json:"host"`
	Image    string    `json:"image"`
	Instance string    `json:"instance"`
	Memory   float64   `json:"memory"`
	Name     string    `json:"name"`
	Ports    []string  `json:"ports"`
	Release  string    `json:"release"`
	Started  time.Time `json:"started"`
	Status   string    `json:"status"`
	Service  string    `json:"service,omitempty"`
}

type apiServicePort struct {
	Balancer    int    `json:"balancer"`
	Certificate string `json:"certificate"`
	Container   int    `json:"container"`
}

type apiService struct {
	Count     int              `json:"count"`
	Cpu       int              `json:"cpu"`
	Domain    string           `json:"domain"`
	Gpu       int              `json:"gpu"`
	GpuVendor string           `json:"gpu-vendor"`
	Memory    int              `json:"memory"`
	Name      string           `json:"name"`
	Nlb       []any            `json:"nlb"`
	Ports     []apiServicePort `json:"ports"`
	Min       *int             `json:"min,omitempty"`
	Max       *int             `json:"max,omitempty"`
}

type apiSystem struct {
	Count          int               `json:"count"`
	Domain         string            `json:"domain"`
	Name           string            `json:"name"`
	Outputs        map[string]string `json:"outputs,omitempty"`
	Parameters     map[string]string `json:"parameters,omitempty"`
	Provider       string            `json:"provider"`
	RackDomain     string            `json:"rack-domain"`
	RouterInternal string            `json:"router-internal"`
	Region         string            `json:"region"`
	Status         string            `json:"status"`
	Type           string            `json:"type"`
	Version        string            `json:"version"`
}

type apiInstance struct {
	Agent             bool      `json:"agent"`
	Cpu               float64   `json:"cpu"`
	CpuCapacity       float64   `json:"cpu-capacity"`
	CpuAllocatable    float64   `json:"cpu-allocatable"`
	GpuCapacity       int       `json:"gpu-capacity"`
	GpuAllocatable    int       `json:"gpu-allocatable"`
	Id                string    `json:"id"`
	Memory            float64   `json:"memory"`
	MemoryCapacity    float64   `json:"memory-capacity"`
	MemoryAllocatable float64   `json:"memory-allocatable"`
	PrivateIp         string    `json:"private-ip"`
	Processes         int       `json:"processes"`
	PublicIp          string    `json:"public-ip"`
	Status            string    `json:"status"`
	Started           time.Time `json:"started"`
}

type apiKeyPair struct {
	Name       *string `json:"name"`
	PrivateKey *string `json:"private-key"`
}

type apiResource struct {
	Name       string            `json:"name"`
	Parameters map[string]string `json:"parameters,omitempty"`
	Status     string            `json:"status,omitempty"`
	Type       string            `json:"type"`
	Url        string            `json:"url"`
	Apps       []apiApp          `json:"apps,omitempty"`
}

type apiResourceParameter struct {
	Default     string `json:"default"`
	Description string `json:"description"`
	Name        string `json:"name"`
}

type apiResourceType struct {
	Name       string                 `json:"name"`
	Parameters []apiResourceParameter `json:"parameters"`
}

// apiCertificate omits the ARN: the rack's struct tags it `json:"-"`.
type apiCertificate struct {
	Id         string    `json:"id"`
	Domain     string    `json:"domain"`
	Domains    []string  `json:"domains"`
	Expiration time.Time `json:"expiration"`
	Status     string    `json:"status"`
}

type apiRegistry struct {
	Server   string `json:"server"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// apiObject is structs.Object. The rack's struct has no JSON tag (so it
// sends "Url"); Go decoders match either spelling, and the lower-case form
// is what the gateway's consumers were promised.
type apiObject struct {
	Url string `json:"url"`
}

type apiBalancerPort struct {
	Protocol string `json:"protocol"`
	Source   int    `json:"source"`
	Target   int    `json:"target"`
}

type apiBalancer struct {
	Name     string            `json:"name"`
	Endpoint string            `json:"endpoint"`
	Ports    []apiBalancerPort `json:"ports"`
	Service  string            `json:"service"`
}

type apiCapacity struct {
	ClusterCPU    int64 `json:"cluster-cpu"`
	ClusterGPU    int64 `json:"cluster-gpu"`
	ClusterMemory int64 `json:"cluster-memory"`
	ProcessCount  int64 `json:"process-count"`
	ProcessCPU    int64 `json:"process-cpu"`
	ProcessGPU    int64 `json:"process-gpu"`
	ProcessMemory int64 `json:"process-memory"`
}

type apiMetricValue struct {
	Average float64   `json:"avg"`
	Count   float64   `json:"count"`
	Maximum float64   `json:"max"`
	Minimum float64   `json:"min"`
	Sum     float64   `json:"sum"`
	Time    time.Time `json:"time"`
}

type apiMetric struct {
	Name   string           `json:"name"`
	Values []apiMetricValue `json:"values"`
}

type apiAppConfig struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type apiBudget struct {
	MonthlyCapUsd         float64 `json:"monthly-cap-usd"`
	AlertThresholdPercent float64 `json:"alert-threshold-percent,omitempty"`
	AtCapAction           string  `json:"at-cap-action,omitempty"`
	PricingAdjustment     float64 `json:"pricing-adjustment,omitempty"`
	LastCapMutationBy     string  `json:"last-cap-mutation-by,omitempty"`
}

type apiBudgetState struct {
	MonthStart            time.Time `json:"month-start"`
	CurrentMonthSpendUsd  float64   `json:"current-month-spend-usd"`
	CurrentMonthSpendAsOf time.Time `json:"current-month-spend-as-of"`
	CircuitBreakerTripped bool      `json:"circuit-breaker-tripped,omitempty"`
	CircuitBreakerAckBy   string    `json:"circuit-breaker-ack-by,omitempty"`
}

type apiServiceCostLine struct {
	Service    string  `json:"service"`
	GpuHours   float64 `json:"gpu-hours"`
	CpuHours   float64 `json:"cpu-hours"`
	MemGbHours float64 `json:"mem-gb-hours"`
	SpendUsd   float64 `json:"spend-usd"`
}

type apiAppCost struct {
	App                 string               `json:"app"`
	MonthStart          time.Time            `json:"month-start"`
	AsOf                time.Time            `json:"as-of"`
	SpendUsd            float64              `json:"spend-usd"`
	Breakdown           []apiServiceCostLine `json:"breakdown"`
	PricingSource       string               `json:"pricing-source"`
	PricingTableVersion string               `json:"pricing-table-version"`
	PricingAdjustment   float64              `json:"pricing-adjustment"`
}

type apiManifestServiceScale struct {
	Min *int `json:"min,omitempty"`
	Max *int `json:"max,omitempty"`
}

type apiManifestService struct {
	Name        string                   `json:"name"`
	Environment []string                 `json:"environment,omitempty"`
	Scale       *apiManifestServiceScale `json:"scale,omitempty"`
}

type apiRoute53 struct {
	HostedZoneID *string `json:"hosted-zone-id"`
	Region       *string `json:"region"`
	Role         *string `json:"role"`
}

type apiDNS01Solver struct {
	Id       int         `json:"id"`
	DnsZones []string    `json:"dns-zones"`
	Route53  *apiRoute53 `json:"route53"`
}

type apiLetsEncryptConfig struct {
	Role    string            `json:"role"`
	Solvers []*apiDNS01Solver `json:"solvers"`
}
