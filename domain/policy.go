package domain

import "fmt"

// OfflineReportPolicy decides which machines get report(4) on chain when
// they go offline. Presence (machine_info.state, metrics, the API) shows
// every machine's offline whatever the policy says.
type OfflineReportPolicy string

// Offline report policies.
const (
	// OfflineReportScored is the original node's rule (the default): only
	// short-term machines that were scored (calc point not zero). Bandwidth
	// machines and machines never scored get no offline transaction.
	OfflineReportScored OfflineReportPolicy = "scored"
	// OfflineReportAll reports every machine the chain shows online.
	OfflineReportAll OfflineReportPolicy = "all"
	// OfflineReportNone never reports offline.
	OfflineReportNone OfflineReportPolicy = "none"
)

// ParseOfflineReportPolicy reads a policy name; "" is the default, scored.
func ParseOfflineReportPolicy(s string) (OfflineReportPolicy, error) {
	switch p := OfflineReportPolicy(s); p {
	case "":
		return OfflineReportScored, nil
	case OfflineReportScored, OfflineReportAll, OfflineReportNone:
		return p, nil
	}
	return "", &FieldError{Field: "offline report policy", Reason: fmt.Sprintf("%q is not one of scored, all, none", s)}
}

// Reports tells whether m's offline is reported on chain under p.
func (p OfflineReportPolicy) Reports(m Machine) bool {
	switch p {
	case OfflineReportAll:
		return true
	case OfflineReportNone:
		return false
	}
	return m.Scored()
}

// Scored tells whether the machine holds a non-zero calc point (its
// short-term info was scored), the original node's condition for an
// offline report.
func (m Machine) Scored() bool { return m.ShortTerm != nil && m.ShortTerm.CalcPoint != 0 }
