package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"

	"ddn/domain"
)

// ContractResult is what a contract command did, served as JSON.
type ContractResult any

// ContractCommand runs a contract management command ("register",
// "unregister", "online", "offline") for a machine.
type ContractCommand func(ctx context.Context, action string, key domain.MachineKey, st domain.StakingType) (ContractResult, error)

// contractRoutes registers POST /api/v0/contract/{register,unregister,online,offline}
// for the operator's backend, behind a credential (contractCredential).
func contractRoutes(mux *routeMux, o Options) {
	for _, action := range []string{"register", "unregister", "online", "offline"} {
		mux.handleLimited("POST /api/v0/contract/"+action, contractCredential(o, action, contractHandler(o, action)), maxInfoBody)
	}
}

// InternalSecretHeader carries the contract routes' shared secret, as the
// original node's later versions read it.
const InternalSecretHeader = "X-Internal-Secret"

// contractCredential guards a contract route: it is served with the admin
// bearer token or the internal secret (X-Internal-Secret), or to anyone
// when the operator listed the action in OpenContractRoutes (the
// original's open API). With neither secret configured and the action not
// open, the route is off (403). Both secrets are compared in constant time.
func contractCredential(o Options, action string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(o.OpenContractRoutes, action) {
			next(w, r)
			return
		}
		if o.AdminToken == "" && o.InternalSecret == "" {
			writeError(w, http.StatusForbidden, domain.CodeParameter, "contract API is disabled: set InternalSecret (or Admin.Token)")
			return
		}
		if got := r.Header.Get(InternalSecretHeader); got != "" && o.InternalSecret != "" && sameToken(got, o.InternalSecret) {
			next(w, r)
			return
		}
		if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && o.AdminToken != "" && sameToken(got, o.AdminToken) {
			next(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="ddn"`)
		writeError(w, http.StatusUnauthorized, domain.CodeParameter, "missing or wrong credential: send "+InternalSecretHeader+" or Authorization: Bearer")
	}
}

func contractHandler(o Options, action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if o.Contract == nil {
			writeError(w, http.StatusServiceUnavailable, domain.CodeInternal, "contract commands are not wired on this node")
			return
		}
		var req struct {
			ProjectName string `json:"project_name"`
			StakingType *uint8 `json:"staking_type"`
			MachineID   string `json:"machine_id"`
			ContainerID string `json:"container_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			if tooLarge(err) {
				writeError(w, http.StatusRequestEntityTooLarge, domain.CodeParameter, "body larger than "+byteSize(maxInfoBody))
				return
			}
			writeError(w, http.StatusBadRequest, domain.CodeParse, "body must be a JSON object with project_name, staking_type, machine_id and container_id")
			return
		}
		// The original's checks and texts; staking_type is optional (0) as there.
		switch {
		case req.ProjectName == "":
			writeError(w, http.StatusBadRequest, domain.CodeParameter, "empty project name")
			return
		case req.MachineID == "":
			writeError(w, http.StatusBadRequest, domain.CodeParameter, "empty machine id")
			return
		}
		var st uint8
		if req.StakingType != nil {
			st = *req.StakingType
		}
		key := domain.MachineKey{MachineID: req.MachineID, Project: req.ProjectName, ContainerID: req.ContainerID}
		res, err := o.Contract(r.Context(), action, key, domain.StakingType(st))
		switch {
		case errors.Is(err, domain.ErrInvalidParam):
			writeError(w, http.StatusBadRequest, domain.CodeParameter, err.Error())
		case err != nil:
			o.Logger.Error("contract "+action, zap.Stringer("machine", key), zap.Error(err))
			writeError(w, http.StatusServiceUnavailable, domain.CodeOf(err), "command not queued (store unreachable)")
		default:
			o.Logger.Info("contract command queued", zap.String("action", action), zap.Stringer("machine", key), zap.Uint8("staking_type", st))
			writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": action + " queued", "result": res})
		}
	}
}
