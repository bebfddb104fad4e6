"""EMVCo QR codes: merchant-presented payloads (encode, decode, CRC) and their images."""
