/** A self-signed certificate for `localhost` and `127.0.0.1`, made now with openssl; PEM. */
export declare function makeTestCertificate(): { cert: string; key: string };
