package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"ddn/domain"
)

// ContractResult is what a contract command did, served as JSON.
type ContractResult any

// ContractCommand runs a contract management command ("register",
// "unregister", "online", "offline") for a machine.
type ContractCommand func(ctx context.Context, action string, key domain.MachineKey, st domain.StakingType) (ContractResult, error)

// contractRoutes registers POST /api/v0/contract/{register,unregister,online,offline}
// for the operator's backend, behind the admin token.
func contractRoutes(mux *routeMux, o Options) {
	for _, action := range []string{"register", "unregister", "online", "offline"} {
		mux.handleLimited("POST /api/v0/contract/"+action, requireToken(o.AdminToken, contractHandler(o, action)), maxInfoBody)
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
		if req.StakingType == nil {
			writeError(w, http.StatusBadRequest, domain.CodeParameter, "staking_type is required")
			return
		}
		key := domain.MachineKey{MachineID: req.MachineID, Project: req.ProjectName, ContainerID: req.ContainerID}
		res, err := o.Contract(r.Context(), action, key, domain.StakingType(*req.StakingType))
		switch {
		case errors.Is(err, domain.ErrInvalidParam):
			writeError(w, http.StatusBadRequest, domain.CodeParameter, err.Error())
		case err != nil:
			o.Logger.Error("contract "+action, zap.Stringer("machine", key), zap.Error(err))
			writeError(w, http.StatusServiceUnavailable, domain.CodeOf(err), "command not queued (store unreachable)")
		default:
			o.Logger.Info("contract command queued", zap.String("action", action), zap.Stringer("machine", key), zap.Uint8("staking_type", *req.StakingType))
			writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": action + " queued", "result": res})
		}
	}
}
