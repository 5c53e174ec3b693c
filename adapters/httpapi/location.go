package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"ddn/domain"
)

// ipLocationView is the answer of GET /api/v0/location.
type ipLocationView struct {
	Code            domain.Code `json:"code"`
	Message         string      `json:"message"`
	IP              string      `json:"ip"`
	ClientIP        string      `json:"client_ip"`
	CountryShort    string      `json:"country_short"`
	CountryLong     string      `json:"country_long"`
	Region          string      `json:"region"`
	City            string      `json:"city"`
	Latitude        float64     `json:"latitude"`
	Longitude       float64     `json:"longitude"`
	BandwidthRegion string      `json:"bandwidth_region"`
}

// locationHandler serves GET /api/v0/location?ip=: the database's record for
// an address (the caller's own without ip, as the original answered) and
// the region name a bandwidth machine there would get.
func locationHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ip := strings.TrimSpace(r.URL.Query().Get("ip"))
		if ip == "" {
			ip = o.ClientIP(r)
		}
		loc, err := o.Geo.Locator.Locate(r.Context(), ip)
		switch code := domain.CodeOf(err); code {
		case domain.CodeOK:
			writeJSON(w, http.StatusOK, ipLocationView{Code: code, Message: "ok", IP: ip, ClientIP: ip, CountryShort: loc.CountryCode,
				CountryLong: loc.Country, Region: loc.Region, City: loc.City, Latitude: loc.Latitude,
				Longitude: loc.Longitude, BandwidthRegion: domain.BandwidthRegion(loc)})
		case domain.CodeParameter:
			writeError(w, http.StatusBadRequest, code, "ip "+quote(ip)+" is not an IP address")
		case domain.CodeIP2Location:
			status := http.StatusNotFound
			if strings.Contains(err.Error(), "no geolocation database") {
				status = http.StatusServiceUnavailable
			}
			writeJSON(w, status, map[string]any{"code": code, "message": err.Error(), "client_ip": ip})
		default:
			o.Logger.Error("locate", zap.String("ip", ip), zap.Error(err))
			writeError(w, http.StatusServiceUnavailable, domain.CodeIP2Location, "geolocation failed")
		}
	}
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
