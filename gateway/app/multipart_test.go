package app_test

import (
	"bytes"
	"mime/multipart"
)

func newMultipart(body *bytes.Buffer, conv, name string, data []byte) string {
	mw := multipart.NewWriter(body)
	_ = mw.WriteField("conv", conv)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	return mw.FormDataContentType()
}
