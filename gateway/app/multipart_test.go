package app_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"testing"
)

func newMultipart(body *bytes.Buffer, conv, name string, data []byte) string {
	mw := multipart.NewWriter(body)
	_ = mw.WriteField("conv", conv)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	return mw.FormDataContentType()
}

func (g *gateway) upload(t *testing.T, token, conv, name string, data []byte) (int, map[string]any) {
	t.Helper()
	var body bytes.Buffer
	ct := newMultipart(&body, conv, name, data)
	req, _ := http.NewRequest(http.MethodPost, g.url+"/v1/attachments", &body)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
