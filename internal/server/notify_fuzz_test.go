package server

import "testing"

func FuzzNotifyDestinationRequest(f *testing.F) {
	fuzzRequest(f, decodeRequest[notifyDestinationRequest], func(in *notifyDestinationRequest) []string {
		return append([]string{in.Channel, in.Name, in.Email, in.ChatID, in.BotToken, in.URL}, in.Events...)
	})
}

func FuzzNotifyPatchRequest(f *testing.F) {
	fuzzRequest(f, decodeRequest[notifyPatchRequest], func(in *notifyPatchRequest) []string {
		var out []string
		if in.Name != nil {
			out = append(out, *in.Name)
		}
		if in.Events != nil {
			out = append(out, *in.Events...)
		}
		return out
	})
}

func FuzzNotifyVerifyRequest(f *testing.F) {
	fuzzRequest(f, decodeRequest[notifyVerifyRequest], func(in *notifyVerifyRequest) []string { return []string{in.Code} })
}
