package browsertest

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"sort"
)

// paletted re-encodes a screenshot with at most 256 colours, so the copies
// committed under docs/screenshots stay small. UI screenshots are mostly
// flat colours plus anti-aliasing: the palette is the most used colours
// (counted at 5 bits a channel, averaged within each bucket), and every
// pixel takes the nearest of them.
func paletted(src []byte) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	type bucket struct {
		n, r, g, b int
	}
	buckets := map[uint16]*bucket{}
	rgba := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			rgba.SetRGBA(x, y, c)
			k := uint16(c.R>>3)<<10 | uint16(c.G>>3)<<5 | uint16(c.B>>3)
			bk := buckets[k]
			if bk == nil {
				bk = &bucket{}
				buckets[k] = bk
			}
			bk.n++
			bk.r += int(c.R)
			bk.g += int(c.G)
			bk.b += int(c.B)
		}
	}
	keys := make([]uint16, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if buckets[keys[i]].n != buckets[keys[j]].n {
			return buckets[keys[i]].n > buckets[keys[j]].n
		}
		return keys[i] < keys[j]
	})
	if len(keys) > 256 {
		keys = keys[:256]
	}
	pal := make(color.Palette, len(keys))
	for i, k := range keys {
		bk := buckets[k]
		pal[i] = color.RGBA{uint8(bk.r / bk.n), uint8(bk.g / bk.n), uint8(bk.b / bk.n), 255}
	}
	out := image.NewPaletted(b, pal)
	nearest := map[color.RGBA]uint8{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := rgba.RGBAAt(x, y)
			i, ok := nearest[c]
			if !ok {
				i = uint8(pal.Index(c))
				nearest[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
