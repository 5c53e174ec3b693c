package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"ddn/domain"
	"ddn/domain/score"
	"ddn/ports"
)

// GeoOptions are what the score and location endpoints need.
type GeoOptions struct {
	// Catalog scores POST /api/v0/calculator/point; nil leaves the route out.
	Catalog score.Catalog
	// Locator answers GET /api/v0/location; nil leaves the route out.
	Locator ports.Locator
}

// maxInfoBody bounds a calculator request: a type-2 body is a few hundred bytes.
const maxInfoBody = 64 << 10

// registerGeo adds the score calculator and the location lookup.
func registerGeo(mux *http.ServeMux, o Options) {
	if o.Geo.Catalog != nil {
		mux.HandleFunc("POST /api/v0/calculator/point", calculatorHandler(o))
	}
	if o.Geo.Locator != nil {
		mux.HandleFunc("GET /api/v0/location", locationHandler(o))
	}
}

// shortTermBody is the type-2 body of the wire protocol.
type shortTermBody struct {
	CPUType        string   `json:"cpu_type"`
	CPURate        int64    `json:"cpu_rate"`
	GPUNames       []string `json:"gpu_names"`
	GPUMemoryTotal []int64  `json:"gpu_memory_total"`
	MemoryTotal    int64    `json:"memory_total"`
	Wallet         string   `json:"wallet"`
}

// calculatorHandler serves POST /api/v0/calculator/point: the calc point of
// a short-term machine-info body, as the node would store it.
func calculatorHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b shortTermBody
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxInfoBody)).Decode(&b); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, http.StatusRequestEntityTooLarge, domain.CodeParameter, "body larger than 64 KiB")
				return
			}
			writeError(w, http.StatusBadRequest, domain.CodeParse, "body must be a short-term machine info JSON object: "+err.Error())
			return
		}
		info := domain.ShortTermInfo{CPUType: b.CPUType, CPURate: b.CPURate, GPUNames: b.GPUNames,
			GPUMemoryTotal: b.GPUMemoryTotal, MemoryTotal: b.MemoryTotal, Wallet: b.Wallet}
		point, err := score.Of(info, o.Geo.Catalog)
		switch code := domain.CodeOf(err); code {
		case domain.CodeOK:
			writeJSON(w, http.StatusOK, map[string]any{"code": code, "message": "ok", "calc_point": point})
		case domain.CodeParameter:
			writeError(w, http.StatusBadRequest, code, err.Error())
		case domain.CodeInvalidInfo:
			writeError(w, http.StatusUnprocessableEntity, code, err.Error())
		default:
			o.Logger.Error("score", zap.Error(err))
			writeError(w, http.StatusInternalServerError, code, "internal error")
		}
	}
}

// locationView is the answer of GET /api/v0/location.
type locationView struct {
	Code            domain.Code `json:"code"`
	Message         string      `json:"message"`
	IP              string      `json:"ip"`
	CountryShort    string      `json:"country_short"`
	CountryLong     string      `json:"country_long"`
	Region          string      `json:"region"`
	City            string      `json:"city"`
	Latitude        float64     `json:"latitude"`
	Longitude       float64     `json:"longitude"`
	BandwidthRegion string      `json:"bandwidth_region"`
}

// locationHandler serves GET /api/v0/location?ip=: the database's record for
// an address and the region name a bandwidth machine there would get.
func locationHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ip := strings.TrimSpace(r.URL.Query().Get("ip"))
		if ip == "" {
			writeError(w, http.StatusBadRequest, domain.CodeParameter, "ip is required")
			return
		}
		loc, err := o.Geo.Locator.Locate(r.Context(), ip)
		switch code := domain.CodeOf(err); code {
		case domain.CodeOK:
			writeJSON(w, http.StatusOK, locationView{Code: code, Message: "ok", IP: ip, CountryShort: loc.CountryCode,
				CountryLong: loc.Country, Region: loc.Region, City: loc.City, Latitude: loc.Latitude,
				Longitude: loc.Longitude, BandwidthRegion: domain.BandwidthRegion(loc)})
		case domain.CodeParameter:
			writeError(w, http.StatusBadRequest, code, "ip "+quote(ip)+" is not an IP address")
		case domain.CodeIP2Location:
			status := http.StatusNotFound
			if strings.Contains(err.Error(), "no geolocation database") {
				status = http.StatusServiceUnavailable
			}
			writeError(w, status, code, err.Error())
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
