"""A minimal nginx configuration for an Arrow: foreground, logs to stderr, temp files
in /tmp, serving /srv/www on port 80."""

NGINX_CONF = """
daemon off;
worker_processes 1;
error_log stderr;
pid /tmp/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path /tmp/body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;
    server { listen 80; root /srv/www; }
}
"""
