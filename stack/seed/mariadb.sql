-- Sample MySQL-family source: a small shop catalogue. Re-run on every `stack up`.
CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
-- '%': containers reach the server from a bridge address, the native stack from 127.0.0.1.
CREATE USER IF NOT EXISTS 'shop'@'%' IDENTIFIED BY 'shop';
GRANT ALL PRIVILEGES ON shop.* TO 'shop'@'%';
FLUSH PRIVILEGES;
USE shop;
DROP TABLE IF EXISTS products;
CREATE TABLE products (
    product_id  INT PRIMARY KEY,
    sku         VARCHAR(32) NOT NULL UNIQUE,
    name        VARCHAR(200) NOT NULL,
    price       DECIMAL(10,2) NOT NULL,
    in_stock    BOOLEAN NOT NULL,
    description TEXT NULL,
    updated_at  DATETIME(6) NOT NULL
) ENGINE=InnoDB;
INSERT INTO products VALUES
 (1, 'SKU-0001', 'Kaffeebecher „Groß“', 12.50, TRUE,  'Ceramic mug', '2026-11-01 08:00:00.000000'),
 (2, 'SKU-0002', 'Thé vert 绿茶',        7.99,  TRUE,  NULL,          '2026-11-01 09:30:00.250000'),
 (3, 'SKU-0003', 'Notebook A5',          3.20,  FALSE, 'Dotted',      '2026-11-02 10:00:00.000000'),
 (4, 'SKU-0004', 'Desk lamp 💡',         49.00, TRUE,  '',            '2026-11-02 11:11:11.111111'),
 (5, 'SKU-0005', 'Cable, USB-C (2 m)',   9999999.99, TRUE, 'Bulk',     '2026-11-03 00:00:00.000000');
