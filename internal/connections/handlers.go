package connections

import (
	"net/http"
	"strings"

	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/routes"
)

// Handlers are the HTTP handlers of the connection routes. Each function's
// main hands one of them to the pipeline.
type Handlers struct {
	service *Service
}

// NewHandlers returns the handlers on service.
func NewHandlers(service *Service) *Handlers { return &Handlers{service: service} }

// view is a connection as every response shows it: no credentials, in any
// form.
type view struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Type      Type   `json:"type"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

func viewOf(c Connection) view {
	return view{
		ID: c.ID, Name: c.Name, Type: c.Type,
		CreatedAt: httpapi.FormatTime(c.CreatedAt), UpdatedAt: httpapi.FormatTime(c.UpdatedAt),
	}
}

func accountOf(r *http.Request) string { return httpapi.IdentityOf(r.Context()).AccountID }

// requestBody is the body of POST and PUT. Credentials holds every field of
// every type (so an unknown one is refused by name, credentials.foo); the
// type decides which are required and which are refused.
type requestBody struct {
	Name        *string `json:"name"`
	Type        *string `json:"type"`
	Credentials *struct {
		Token    *string `json:"token"`
		Username *string `json:"username"`
		Password *string `json:"password"`
		Name     *string `json:"name"`
		Value    *string `json:"value"`
	} `json:"credentials"`
}

// ParseRequest decodes a POST or PUT body strictly (httpapi.DecodeJSON) and
// validates it: the one parser of connection bodies, which the fuzz target
// holds to "a VALIDATION_ERROR with details, or a valid request".
func ParseRequest(r *http.Request) (Request, error) {
	var body requestBody
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return Request{}, err
	}
	req := Request{Name: body.Name, Type: body.Type}
	if c := body.Credentials; c != nil {
		req.Credentials = &CredentialsRequest{Token: c.Token, Username: c.Username, Password: c.Password, Name: c.Name, Value: c.Value}
	}
	return req, nil
}

// List is GET /connections.
func (h *Handlers) List(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := httpapi.ListParams(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	page, err := h.service.List(r.Context(), accountOf(r), limit, cursor)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WritePage(w, page, viewOf)
}

// Get is GET /connections/{id}.
func (h *Handlers) Get(w http.ResponseWriter, r *http.Request) {
	c, err := h.service.Get(r.Context(), accountOf(r), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteData(w, http.StatusOK, viewOf(c))
}

// Create is POST /connections.
func (h *Handlers) Create(w http.ResponseWriter, r *http.Request) {
	req, err := ParseRequest(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	c, err := h.service.Create(r.Context(), accountOf(r), req)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.Logger(r).InfoContext(r.Context(), "connection created", "connection_id", c.ID, "connection_type", string(c.Type))
	// Built from the route, not the request, so a request path with a
	// trailing slash still gets a clean Location.
	w.Header().Set("Location", strings.Replace(routes.GetConnection.Path, "{id}", c.ID, 1))
	httpapi.WriteData(w, http.StatusCreated, viewOf(c))
}

// Update is PUT /connections/{id}.
func (h *Handlers) Update(w http.ResponseWriter, r *http.Request) {
	req, err := ParseRequest(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	c, err := h.service.Replace(r.Context(), accountOf(r), r.PathValue("id"), req)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.Logger(r).InfoContext(r.Context(), "connection replaced", "connection_id", c.ID, "connection_type", string(c.Type))
	httpapi.WriteData(w, http.StatusOK, viewOf(c))
}

// Delete is DELETE /connections/{id}.
func (h *Handlers) Delete(w http.ResponseWriter, r *http.Request) {
	c, err := h.service.Delete(r.Context(), accountOf(r), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.Logger(r).InfoContext(r.Context(), "connection deleted", "connection_id", c.ID)
	httpapi.WriteData(w, http.StatusOK, viewOf(c))
}
