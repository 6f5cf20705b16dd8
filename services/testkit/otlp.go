package testkit

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// Span is one span an OTLPReceiver received, with the service that exported it.
type Span struct {
	// Service is the resource's service.name.
	Service string
	// Name is the span's name.
	Name string
	// TraceID, SpanID and ParentID are hex; ParentID is "" for a root span.
	TraceID, SpanID, ParentID string
	// Attributes holds the span's string and integer attributes, as strings.
	Attributes map[string]string
}

// OTLPReceiver is an OTLP/HTTP trace receiver (POST /v1/traces, protobuf, gzip or not) that
// decodes the real export requests services send and keeps their spans. Point a service at it
// with OTEL_EXPORTER_OTLP_ENDPOINT=<URL>.
type OTLPReceiver struct {
	srv *httptest.Server

	mu    sync.Mutex
	spans []Span
}

// RunOTLP starts a receiver on a random loopback port, closed in t.Cleanup.
func RunOTLP(t testing.TB) *OTLPReceiver {
	t.Helper()
	r := &OTLPReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the receiver's base URL (http://127.0.0.1:port), for OTEL_EXPORTER_OTLP_ENDPOINT.
func (r *OTLPReceiver) URL() string { return r.srv.URL }

// Spans returns the spans received so far.
func (r *OTLPReceiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

func (r *OTLPReceiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		http.NotFound(w, req)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer zr.Close()
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var in collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var got []Span
	for _, rs := range in.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := Span{Service: service, Name: s.GetName(), TraceID: hex.EncodeToString(s.GetTraceId()),
					SpanID: hex.EncodeToString(s.GetSpanId()), Attributes: map[string]string{}}
				if len(s.GetParentSpanId()) > 0 {
					sp.ParentID = hex.EncodeToString(s.GetParentSpanId())
				}
				for _, kv := range s.GetAttributes() {
					v := kv.GetValue()
					switch x := v.GetValue().(type) {
					case *commonpb.AnyValue_IntValue:
						sp.Attributes[kv.GetKey()] = strconv.FormatInt(x.IntValue, 10)
					case *commonpb.AnyValue_BoolValue:
						sp.Attributes[kv.GetKey()] = strconv.FormatBool(x.BoolValue)
					default:
						sp.Attributes[kv.GetKey()] = v.GetStringValue()
					}
				}
				got = append(got, sp)
			}
		}
	}
	r.mu.Lock()
	r.spans = append(r.spans, got...)
	r.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}
