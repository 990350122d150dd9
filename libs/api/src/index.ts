export * from './api-app';
export * from './api.constants';
export * from './api.module';
export * from './auth/auth-config';
export * from './auth/authenticator';
export * from './read-model';
