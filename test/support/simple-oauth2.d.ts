/** The parts of simple-oauth2 5.x the end-to-end tests use (the package ships no types). */
declare module 'simple-oauth2' {
  export interface ModuleOptions {
    client: { id: string; secret: string };
    auth: { tokenHost: string; tokenPath?: string; refreshPath?: string; revokePath?: string };
    options?: { authorizationMethod?: 'header' | 'body'; credentialsEncodingMode?: 'strict' | 'loose' };
  }
  export interface Token {
    access_token: string;
    refresh_token?: string;
    token_type: string;
    expires_in: number;
    scope?: string;
    [key: string]: unknown;
  }
  export interface AccessToken {
    token: Token;
    expired(expirationWindowSeconds?: number): boolean;
    refresh(params?: { scope?: string | string[] }): Promise<AccessToken>;
    revoke(tokenType: 'access_token' | 'refresh_token'): Promise<void>;
  }
  export class ResourceOwnerPassword {
    constructor(options: ModuleOptions);
    getToken(params: { username: string; password: string; scope?: string | string[] }): Promise<AccessToken>;
  }
}
