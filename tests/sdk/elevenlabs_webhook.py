"""Checks a webhook delivery with the official `elevenlabs` SDK's `webhooks.construct_event`.

Usage: python elevenlabs_webhook.py SECRET SIGNATURE_HEADER < BODY
Prints the event's type; exits non-zero when the SDK rejects the signature.
"""
import sys

from elevenlabs import ElevenLabs

secret, signature = sys.argv[1], sys.argv[2]
body = sys.stdin.read()
event = ElevenLabs(api_key="unused").webhooks.construct_event(rawBody=body, sig_header=signature, secret=secret)
print(event["type"])
